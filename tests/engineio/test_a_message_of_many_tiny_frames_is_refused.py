"""Defect (d) of issue 21: a message split into thousands of one-byte frames is refused by the
frames-per-message bound (close 1008) before it is assembled. On the former engine
(python-engineio, gevent-websocket) 37,000 one-byte frames per message were assembled, costing
seconds of worker CPU."""

from __future__ import annotations

from collections.abc import Callable

from tests.support import PushsvcProcess
from tests.support.raw_ws import CONTINUATION, TEXT, FrameSocket, client_frame

MESSAGE = '42["my_event",{"data":"' + "x" * 2000 + '"}]'


def test_a_message_of_2000_one_byte_frames_closes_the_connection(
    serve_with: Callable[..., PushsvcProcess]
) -> None:
    server = serve_with({"PUSHSVC_MAX_FRAMES_PER_MESSAGE": "256"})
    with FrameSocket(server.url, "/socket.io/?EIO=4&transport=websocket") as ws:
        assert ws.recv_text().startswith("0")
        ws.send_text("40")
        data = MESSAGE.encode()
        frames = [client_frame(TEXT if i == 0 else CONTINUATION, data[i:i + 1],
                               fin=i == len(data) - 1) for i in range(len(data))]
        try:
            ws.sock.sendall(b"".join(frames))
        except OSError:
            pass
        code = ws.recv_until_closed()
        assert code == 1008
