"""Heartbeats (engine.io-protocol README, "Heartbeat"): the server sends PING ``2`` every
pingInterval and closes a session whose PONG ``3`` does not come within pingTimeout — over
polling (its next request gets 400) and over WebSocket (the connection is closed)."""

from __future__ import annotations

import json

import requests

from tests.engineio.conftest import AppServer
from tests.support.raw_ws import FrameSocket


def test_polling_pings_are_answered_and_a_silent_session_is_closed(echo: AppServer) -> None:
    text = requests.get(f"{echo.url}/engine.io/?EIO=4&transport=polling", timeout=10).text
    url = f"{echo.url}/engine.io/?EIO=4&transport=polling&sid={json.loads(text[1:])['sid']}"
    for _ in range(3):
        assert requests.get(url, timeout=10).text == "2"
        assert requests.post(url, data="3", timeout=10).text == "ok"
    assert requests.get(url, timeout=10).text == "2"
    # No PONG now: the next GET finds the session closed (it waits for nothing first).
    status = 200
    for _ in range(50):
        status = requests.get(url, timeout=10).status_code
        if status == 400:
            break
    assert status == 400


def test_websocket_pings_are_answered_and_a_silent_session_is_closed(echo: AppServer) -> None:
    with FrameSocket(echo.url, "/engine.io/?EIO=4&transport=websocket") as ws:
        assert ws.recv_text().startswith("0")
        for _ in range(3):
            assert ws.recv_text() == "2"
            ws.send_text("3")
        assert ws.recv_text() == "2"
        assert ws.recv_until_closed() is not None
