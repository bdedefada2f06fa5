"""The classic test page's seven forms work as in Flask-SocketIO's example app, in Chromium,
from another origin, with socket.io-client 3.0.3: a page that never joined a room sends to it
("Send to Room") and closes it ("Close Room"), and the member's page shows the message, then
the closing notice, then nothing more from that room (driver: tests/js/classic_page_browser.js).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import start_pushsvc
from tests.support.classic_page import open_classic_page, static_origin

pytestmark = pytest.mark.browser  # Chromium

SEVEN_FORMS = ["Echo", "Broadcast", "Join Room", "Send to Room", "Leave Room", "Close Room",
               "Disconnect"]


def test_a_page_that_never_joined_sends_to_a_room_and_closes_it(artifacts_dir: Path) -> None:
    with static_origin() as origin:
        env = {"PUSHSVC_CORS_ALLOWED_ORIGINS": origin}
        with start_pushsvc(env=env, log_dir=artifacts_dir) as proc:
            report = open_classic_page(origin, proc.url, "forms", artifacts_dir)
    assert report["ok"] and report["steps"] == SEVEN_FORMS
    assert report["status"] == "connected"  # the outsider; the member asked to disconnect
