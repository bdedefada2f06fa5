"""``pushsvc.init_app(app)`` adds push to an existing Flask app (tests/server/example_app.py):
its own routes keep working, its own Socket.IO handlers sit next to the demo protocol, and
gunicorn with pushsvc's worker serves it, SIGTERM drain included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support import RecordingClient, free_port, wait_until
from tests.support.pushsvc_proc import REPO_ROOT


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def test_an_existing_app_gains_push_and_keeps_its_routes(artifacts_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    env |= {"PUSHSVC_BUS": "memory", "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "5"}
    log_path = artifacts_dir / "gunicorn.log"
    with open(log_path, "wb") as log_file:
        popen = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-k", "pushsvc.worker.PushsvcWorker",
             "-w", "1", "--no-control-socket", "--graceful-timeout", "5",
             "-b", f"127.0.0.1:{port}", "tests.server.example_app:app"],
            cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    client = RecordingClient(transports=["websocket"])
    try:
        wait_until(lambda: _get(f"{url}/healthz"), timeout=30, what="gunicorn to serve")
        assert _get(f"{url}/hello") == "hello from the existing app"
        client.connect(url)
        assert client.call("add", {"a": 2, "b": 3}) == {"sum": 5}
        client.call("my_event", {"data": "demo protocol too"})
        client.wait_for_reply("demo protocol too")

        popen.send_signal(signal.SIGTERM)
        client.wait_for("server_shutdown")
        wait_until(lambda: not client.connected, what="the drain to disconnect the client")
        assert popen.wait(timeout=15) == 0
    finally:
        client.close()
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)
