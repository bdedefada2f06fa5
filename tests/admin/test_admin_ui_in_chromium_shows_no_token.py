"""Headless Chromium logs in to the real Admin UI of a JWT-mode pod; a client then connects
with tokens in ``auth``, ``?token=`` and an Authorization header and refreshes its token.
Neither a WebSocket frame the UI received nor the text of the socket's page (its handshake)
or of the events page (``pushsvc_refresh`` among them) holds a token.

Screenshots: artifacts/admin/<test>/admin-ui-socket.png and admin-ui-events.png.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.admin.conftest import ADMIN_ENV
from tests.support import RecordingClient, start_pushsvc
from tests.support.pushsvc_proc import REPO_ROOT
from tests.support.tokens import Tokens, jwt_env

pytestmark = pytest.mark.browser  # Chromium

DRIVER = REPO_ROOT / "tests" / "js" / "admin_ui_secrets_browser.js"
NODE = shutil.which("node") or "node"
TOKENS = Tokens()


def test_chromium_sees_the_handshake_and_the_refresh_but_no_token(artifacts_dir: Path,
                                                                  tmp_path: Path) -> None:
    env = {**ADMIN_ENV, **jwt_env()}
    with start_pushsvc(env=env, log_dir=tmp_path / "logs") as proc:
        browser = subprocess.Popen(
            [NODE, str(DRIVER), proc.url, ADMIN_ENV["PUSHSVC_ADMIN_UI_USERNAME"],
             ADMIN_ENV["PUSHSVC_ADMIN_UI_PASSWORD"], str(artifacts_dir)],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert browser.stdin is not None and browser.stdout is not None
        try:
            first = browser.stdout.readline()
            assert json.loads(first).get("ready"), first
            tokens = [TOKENS.mint("alice", ttl=600 + n) for n in range(4)]
            with RecordingClient(transports=["websocket"]) as client:
                client.sio.connect(f"{proc.url}/?token={tokens[0]}", auth={"token": tokens[1]},
                                   headers={"Authorization": f"Bearer {tokens[2]}"},
                                   transports=["websocket"], wait_timeout=5)
                client.wait_for_reply("Connected")
                assert client.call("pushsvc_refresh", {"token": tokens[3]})["ok"] is True
                browser.stdin.write(f"{client.sio.get_sid('/')} pushsvc_refresh\n")
                browser.stdin.flush()
                out, _ = browser.communicate(timeout=120)
        finally:
            if browser.poll() is None:
                browser.kill()
                browser.wait()
    report = json.loads(out.strip().splitlines()[-1])
    seen = "\n".join(report["frames"] + report["texts"])
    for token in tokens:
        for piece in (token, token.rsplit(".", 1)[-1]):
            assert piece not in seen, "a token reached the Admin UI"
    assert report["ok"], (report.get("error"), report["texts"][-1:])
    # The refresh event's arguments are on the page, the token masked.
    assert "pushsvc_refresh" in report["eventsPage"]
    assert '"token": "(hidden by pushsvc)"' in report["eventsPage"]
