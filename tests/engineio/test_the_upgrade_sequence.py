"""The upgrade (engine.io-protocol README, "Upgrade"): ``2probe`` is answered ``3probe``, a
GET waiting then is answered NOOP ``6``, ``5`` completes it; packets queued for polling go
out over the WebSocket first, in order, with no NOOP ahead of them; after the upgrade the
sid's polling requests get 400 and a second WebSocket for it is closed."""

from __future__ import annotations

import json
import threading
import time

import requests

from tests.engineio.conftest import AppServer
from tests.support.raw_ws import FrameSocket


def _session(server: AppServer) -> str:
    text = requests.get(f"{server.url}/engine.io/?EIO=4&transport=polling", timeout=10).text
    return str(json.loads(text[1:])["sid"])


def _poll_url(server: AppServer, sid: str) -> str:
    return f"{server.url}/engine.io/?EIO=4&transport=polling&sid={sid}"


def _texts(ws: FrameSocket, count: int) -> tuple[list[str], list[str]]:
    """The next ``count`` text messages but pings (answered), and everything seen."""
    texts: list[str] = []
    seen: list[str] = []
    while len(texts) < count:
        text = ws.recv_text()
        seen.append(text)
        if text == "2":
            ws.send_text("3")
        else:
            texts.append(text)
    return texts, seen


def test_probe_noop_upgrade_then_messages_over_the_websocket(echo: AppServer) -> None:
    sid = _session(echo)
    answers: list[requests.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(
        requests.get(_poll_url(echo, sid), timeout=10)))
    waiting.start()
    time.sleep(0.1)  # ordering only: the GET is waiting
    with FrameSocket(echo.url, f"/engine.io/?EIO=4&transport=websocket&sid={sid}") as ws:
        assert ws.status == 101
        ws.send_text("2probe")
        assert ws.recv_text() == "3probe"
        waiting.join(10)
        assert (answers[0].status_code, answers[0].text) == (200, "6")
        ws.send_text("5")
        ws.send_text("4hello")
        assert _texts(ws, 1)[0] == ["4hello"]
        assert requests.get(_poll_url(echo, sid), timeout=10).status_code == 400
        with FrameSocket(echo.url, f"/engine.io/?EIO=4&transport=websocket&sid={sid}") as ws2:
            assert ws2.recv_until_closed() is not None


def test_packets_queued_for_polling_go_first_and_no_noop_reaches_the_websocket(
    echo: AppServer,
) -> None:
    sid = _session(echo)
    assert requests.post(_poll_url(echo, sid), data="4one\x1e4two", timeout=10).text == "ok"
    with FrameSocket(echo.url, f"/engine.io/?EIO=4&transport=websocket&sid={sid}") as ws:
        ws.send_text("2probe")
        assert ws.recv_text() == "3probe"
        ws.send_text("5")
        ws.send_text("4three")
        texts, seen = _texts(ws, 3)
        assert texts == ["4one", "4two", "4three"]
        assert "6" not in seen
