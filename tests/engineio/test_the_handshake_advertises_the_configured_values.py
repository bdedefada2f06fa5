"""The handshake (engine.io-protocol README, "Handshake"): the OPEN packet carries ``sid``,
``upgrades``, ``pingInterval``/``pingTimeout`` in milliseconds exactly as configured (1.5 s
and 1.2 s here: python-engineio's ``int(interval + grace) * 1000`` would advertise 1000 for
the first, and 0 for the suites' 300 ms) and ``maxPayload``."""

from __future__ import annotations

import json

import requests

from tests.engineio.conftest import AppServer
from tests.support.raw_ws import FrameSocket

KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


def test_a_polling_handshake_offers_the_websocket_upgrade(echo: AppServer) -> None:
    response = requests.get(f"{echo.url}/engine.io/?EIO=4&transport=polling", timeout=10)
    assert response.status_code == 200 and response.text.startswith("0")
    opened = json.loads(response.text[1:])
    assert set(opened) == KEYS and isinstance(opened["sid"], str)
    assert opened["upgrades"] == ["websocket"]
    assert (opened["pingInterval"], opened["pingTimeout"]) == (1500, 1200)
    assert opened["maxPayload"] == 1_000_000


def test_a_websocket_handshake_offers_no_upgrade(echo: AppServer) -> None:
    with FrameSocket(echo.url, "/engine.io/?EIO=4&transport=websocket") as ws:
        assert ws.status == 101
        text = ws.recv_text()
        assert text.startswith("0")
        opened = json.loads(text[1:])
        assert set(opened) == KEYS and opened["upgrades"] == []
        assert (opened["pingInterval"], opened["pingTimeout"]) == (1500, 1200)
