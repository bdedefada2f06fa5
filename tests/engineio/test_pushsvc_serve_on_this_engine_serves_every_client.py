"""``pushsvc serve`` serves the classic page, the python-socketio
client and socket.io-client 3.0.3 and 4.x over both transports (echo, rooms, close_room)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest
import requests

from tests.support import PushsvcProcess, RecordingClient
from tests.support.pushsvc_proc import REPO_ROOT

NODE = shutil.which("node") or "node"
DRIVER = REPO_ROOT / "tests" / "js" / "protocol_client.js"
TRANSPORTS = ["websocket", "polling"]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("package", "major"), [("socket.io-client", "4."), ("socket.io-client-3", "3.0.3")]
)
def test_the_node_clients_run_every_demo_event(
    engine_pushsvc: PushsvcProcess, transport: str, package: str, major: str
) -> None:
    result = subprocess.run(
        [NODE, str(DRIVER), engine_pushsvc.url, package, transport],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["version"].startswith(major)
    assert report["transport"] == transport
    assert report["steps"][-2:] == ["disconnect_request", "other client unaffected"]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], ["polling", "websocket"]])
def test_the_python_client_echoes_and_joins_rooms(
    engine_pushsvc: PushsvcProcess, transports: list[str]
) -> None:
    with RecordingClient(transports=transports) as a, RecordingClient(
            transports=transports) as b:
        a.connect(engine_pushsvc.url)
        b.connect(engine_pushsvc.url)
        for client in (a, b):
            client.wait_for_reply("Connected")
        assert a.transport == transports[-1]
        assert a.call("my_event", {"data": "hello"}) == {"ok": True}
        a.wait_for_reply("hello")
        room = f"room-{uuid.uuid4().hex[:8]}"
        assert a.call("join", {"room": room}) == {"ok": True}
        b.call("join", {"room": room})
        b.emit("my_room_event", {"room": room, "data": "to the room"})
        a.wait_for_reply("to the room")
        assert "hello" not in b.replies()


def test_the_classic_page_and_the_js_client_are_served(engine_pushsvc: PushsvcProcess) -> None:
    page = requests.get(engine_pushsvc.url + "/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
