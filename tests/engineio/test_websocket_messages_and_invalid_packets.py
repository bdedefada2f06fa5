"""WebSocket messages (engine.io-protocol README, "WebSocket"): text ``4…`` and binary frames
are echoed as sent; an invalid Engine.IO packet closes the connection; so do an invalid
Socket.IO packet (``4abc``, ``42{}``, a bad ack id) and a session that sends no Socket.IO
CONNECT within the connect timeout (socket.io-protocol README)."""

from __future__ import annotations

import pytest

from tests.engineio.conftest import AppServer
from tests.support.raw_ws import BINARY, CLOSE, FrameSocket


def test_text_and_binary_messages_are_echoed(echo: AppServer) -> None:
    with FrameSocket(echo.url, "/engine.io/?EIO=4&transport=websocket") as ws:
        ws.recv_text()
        ws.send_text("4hello")
        assert ws.recv_text() == "4hello"
        ws.send_frame(BINARY, bytes([1, 2, 3, 4]))
        assert ws.recv_frame() == (BINARY, bytes([1, 2, 3, 4]))


def test_an_invalid_engineio_packet_closes_the_connection(echo: AppServer) -> None:
    with FrameSocket(echo.url, "/engine.io/?EIO=4&transport=websocket") as ws:
        ws.recv_text()
        ws.send_text("abc")
        assert ws.recv_until_closed() is not None


@pytest.mark.parametrize("packet", ["4abc", "42{}", '42abc["message-with-ack",1]'])
def test_an_invalid_socketio_packet_closes_the_connection(sio: AppServer, packet: str) -> None:
    with FrameSocket(sio.url, "/socket.io/?EIO=4&transport=websocket") as ws:
        ws.recv_text()
        ws.send_text("40")
        assert ws.recv_text().startswith("40")
        assert ws.recv_text() == '42["auth",{}]'
        ws.send_text(packet)
        assert ws.recv_until_closed() is not None


def test_the_connect_handlers_emit_comes_after_the_connect_reply(sio: AppServer) -> None:
    with FrameSocket(sio.url, "/socket.io/?EIO=4&transport=websocket") as ws:
        ws.recv_text()
        ws.send_text('40/custom,{"token":"abc"}')
        assert ws.recv_text().startswith('40/custom,{"sid":')
        assert ws.recv_text() == '42/custom,["auth",{"token":"abc"}]'
        ws.send_text("40/random,")
        assert ws.recv_text() == '44/random,{"message":"Invalid namespace"}'


def test_a_session_without_a_socketio_connect_is_closed(sio: AppServer) -> None:
    with FrameSocket(sio.url, "/socket.io/?EIO=4&transport=websocket") as ws:
        assert ws.recv_text().startswith("0")
        for _ in range(100):  # pings are answered: only the connect timeout (1 s) closes it
            opcode, payload = ws.recv_frame()
            if opcode == CLOSE:
                break
            assert payload == b"2"
            ws.send_text("3")
        assert opcode == CLOSE
