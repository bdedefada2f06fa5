"""``pushsvc.init_app(app)`` adds push to an existing Flask app (tests/server/example_app.py):
its own routes keep working (``/`` included), its own Socket.IO handlers work, and gunicorn
with pushsvc's worker serves it, SIGTERM drain included. The classic demo protocol is not
there unless the app asks for it: no ``Connected`` greeting, and ``my_broadcast_event`` from
an anonymous client is an unknown event that reaches no one. The per-client event rate applies
to the app's own events too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support import RecordingClient, free_port, wait_until
from tests.support.pushsvc_proc import REPO_ROOT, WORKER_CLASS

BURST = 10


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def test_an_existing_app_gains_push_and_keeps_its_routes(artifacts_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    env |= {"PUSHSVC_BUS": "memory", "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "5",
            # A burst of BURST events per client and no refill during the test.
            "PUSHSVC_CLIENT_EVENTS_BURST": str(BURST),
            "PUSHSVC_CLIENT_EVENTS_PER_SECOND": "0.001"}
    log_path = artifacts_dir / "gunicorn.log"
    with open(log_path, "wb") as log_file:
        popen = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-k", WORKER_CLASS,
             "-w", "1", "--no-control-socket", "--graceful-timeout", "5",
             "-b", f"127.0.0.1:{port}", "tests.server.example_app:app"],
            cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    client = RecordingClient(transports=["websocket"])
    other = RecordingClient(transports=["websocket"])
    flood = RecordingClient(transports=["websocket"])
    try:
        wait_until(lambda: _get(f"{url}/healthz"), timeout=30, what="gunicorn to serve")
        assert _get(f"{url}/hello") == "hello from the existing app"
        assert _get(f"{url}/") == "the existing app's home page"
        client.connect(url)
        other.connect(url)
        assert client.call("add", {"a": 2, "b": 3}) == {"sum": 5}
        for event in ("my_broadcast_event", "my_room_event", "close_room", "join", "my_event"):
            ack = client.call(event, {"data": "demo protocol?", "room": "lobby"})
            assert ack["ok"] is False and ack["code"] == "unknown_event", (event, ack)
        # The server answers other's call after anything it sent other before: no greeting
        # and no broadcast is on its way.
        assert other.call("add", {"a": 1, "b": 1}) == {"sum": 2}
        assert client.replies() == [] and other.replies() == []
        assert other.received("error") == []
        flood.connect(url)
        for n in range(BURST):
            assert flood.call("add", {"a": n, "b": 1}) == {"sum": n + 1}
        refused = flood.call("add", {"a": 1, "b": 1})
        assert refused["ok"] is False and refused["code"] == "rate_limited", refused
        assert flood.wait_for("error")["event"] == "add"
        popen.send_signal(signal.SIGTERM)
        client.wait_for("server_shutdown")
        wait_until(lambda: not client.connected, what="the drain to disconnect the client")
        assert popen.wait(timeout=15) == 0
    finally:
        client.close()
        other.close()
        flood.close()
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)
