"""`pushsvc demo` brings up the topology, prints the URL, the notifier's messages reach a
client at that URL, and SIGTERM stops every process it started. The user's PUSHSVC_*
settings reach the pods (those the topology owns are ignored), ``--pods`` sets the count,
tabs mint demo tokens and get the notifier's messages for their user, connection state
recovery is on (offsets on every recoverable event), and a missing JS
client stops it before anything starts, saying what to set."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.deploy.conftest import REPO_ROOT, require_tool, running_demo
from tests.support import RecordingClient

pytestmark = pytest.mark.topology  # it starts its pods itself

PUSHSVC = str(Path(sys.executable).parent / "pushsvc")


def _env(env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}, **env}


def test_the_demo_prints_a_url_that_receives_notifier_messages_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    require_tool("haproxy")
    # A user's setting reaches the pods (the reply event, so the notifier uses it too); a
    # pod identity the topology owns is ignored.
    env = {"PUSHSVC_REPLY_EVENT": "demo_push", "PUSHSVC_POD_NAME": "mine"}
    cmd = [PUSHSVC, "demo", "--port", "0", "--pods", "2", "--interval", "1",
           "--workdir", str(tmp_path / "demo")]
    with running_demo(cmd, cwd=tmp_path, env=_env(env)) as demo:
        assert len(demo.children) >= 4  # emulator, 2 pushsvc masters (+ workers), haproxy
        masters = [c for c in demo.children
                   if c.ppid() == demo.proc.pid and "serve" in c.cmdline()]
        assert len(masters) == 2
        with RecordingClient(reply_event="demo_push") as client:
            client.connect(demo.url)
            # The pod's name belongs to this connection: sent straight, without an offset.
            info = client.wait_for("pushsvc_info", timeout=20)
            assert info["pod"] in {"pushsvc-node1", "pushsvc-node2"}
            # Connection state recovery is on in the demo: each recoverable event carries its
            # offset ("<resourceVersion>-<index>") as the last argument.
            _message, offset = client.wait_for(
                None, lambda p: "notifier message #" in str(p), timeout=20)
            assert re.fullmatch(r"\d+-\d+", offset), offset
        # JWT mode with the dev-only demo tokens: a tab mints one and gets alice's messages.
        with urllib.request.urlopen(f"{demo.url}/pushsvc-demo/token?sub=alice",
                                    timeout=10) as resp:
            token = json.loads(resp.read())["token"]
        with RecordingClient(reply_event="demo_push") as alice:
            alice.connect(demo.url, auth={"token": token})
            alice.wait_for(None, lambda p: "for alice" in str(p), timeout=20)
        assert demo.stop() == 0
        gone, alive = psutil.wait_procs(demo.children, timeout=10)
        assert alive == [], [p.pid for p in alive]
    assert (REPO_ROOT / "haproxy" / "haproxy.cfg").exists()


def test_without_the_js_client_the_demo_says_which_setting_to_set_and_starts_nothing(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [PUSHSVC, "demo", "--port", "0"], cwd=tmp_path,
        env=_env({"PUSHSVC_JS_CLIENT_DIR": str(tmp_path / "none")}), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 2, output
    assert "socket.io.min.js" in output and "PUSHSVC_JS_CLIENT_DIR" in output
    assert "kubeapi" not in output.lower()
