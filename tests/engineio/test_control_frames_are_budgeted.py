"""Defect (b) of issue 21: PONG (and PING) frames are budgeted — a flood closes the connection
with 1008 — and text frames are UTF-8-checked once, in C (wsproto), invalid UTF-8 closing
with 1007. On the former engine (gevent-websocket) PONGs were counted by nothing (5.2 MB of
them took 1.39 s of the worker)."""

from __future__ import annotations

from collections.abc import Callable

from tests.support import PushsvcProcess
from tests.support.raw_ws import PONG, TEXT, FrameSocket, closed_by_server


def test_a_flood_of_pongs_closes_the_connection(
    serve_with: Callable[..., PushsvcProcess]
) -> None:
    server = serve_with()
    with FrameSocket(server.url, "/socket.io/?EIO=4&transport=websocket") as ws:
        assert ws.recv_text().startswith("0")
        try:
            for _ in range(500):
                ws.send_frame(PONG, b"x" * 125)
        except OSError:
            pass  # closed while we were still sending: that is the answer
        assert closed_by_server(ws, within=5.0)


def test_invalid_utf8_in_a_text_frame_closes_with_1007(
    serve_with: Callable[..., PushsvcProcess],
) -> None:
    server = serve_with()
    with FrameSocket(server.url, "/socket.io/?EIO=4&transport=websocket") as ws:
        assert ws.recv_text().startswith("0")
        ws.send_frame(TEXT, b"4\xff\xfe")
        assert ws.recv_until_closed() == 1007
