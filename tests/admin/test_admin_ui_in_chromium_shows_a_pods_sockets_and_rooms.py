"""Headless Chromium logs in to the Admin UI served by pushsvc itself (no request leaves the
server's origin) and sees the two clients connected to the pod and the room they joined.

Screenshots: artifacts/admin/<test>/admin-ui-sockets.png and admin-ui-room.png.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.admin.conftest import ADMIN_ENV
from tests.support import RecordingClient
from tests.support.pushsvc_proc import REPO_ROOT

pytestmark = pytest.mark.browser  # Chromium

DRIVER = REPO_ROOT / "tests" / "js" / "admin_ui_browser.js"
NODE = shutil.which("node") or "node"


def test_chromium_logs_in_and_sees_the_sockets_and_rooms_of_the_pod(admin_server, artifacts_dir):
    clients = [RecordingClient(transports=["websocket"]).connect(admin_server.url)
               for _ in range(2)]
    try:
        for client in clients:
            client.wait_for_reply("Connected")
            client.emit("join", {"room": "night-shift"})
            client.wait_for(predicate=lambda p: "night-shift" in str(p.get("data")))
        sids = [client.sio.get_sid("/") for client in clients]
        result = subprocess.run(
            [NODE, str(DRIVER), admin_server.url, ADMIN_ENV["PUSHSVC_ADMIN_UI_USERNAME"],
             ADMIN_ENV["PUSHSVC_ADMIN_UI_PASSWORD"], ",".join(sids), "night-shift",
             str(artifacts_dir)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=150, check=False)
    finally:
        for client in clients:
            client.close()
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"], report
    assert report["presetServerUrl"] == admin_server.url
    assert report["foreignRequests"] == []
    assert report["roomMembersSeen"] == sids
