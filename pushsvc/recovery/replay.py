"""What a recovered client missed, sent before its CONNECT reply: frames built once.

A reconnect storm replays the same few seconds to a thousand clients: each missed message's
WebSocket frame is built once (kept with its history entry, its bytes charged to the history's
bound) and every recovering client on a WebSocket gets its frames in one write, in order, by
its connection's own writer — before the CONNECT reply, and before any live delivery (the
replay runs without a greenlet switch; live packets to a recovering sid are held back by
hooks.py). A client still polling (or upgrading) gets the packets through the normal send
path. Both engines write the same frame (RFC 6455, final, unmasked); only who writes differs.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from socketio import packet as sio_packet
from socketio.packet import Packet

from pushsvc.engineio.packets import frame_bytes
from pushsvc.recovery.history import _Entry
from pushsvc.recovery.snapshot import offset_text
from pushsvc.recovery.tap import Tap

#: The WebSocket text opcode; an Engine.IO MESSAGE is "4" before the Socket.IO packet.
_TEXT = 0x1


class Replay(Tap):
    """The replay of missed messages."""

    def _replay(self, eio_sid: str, missed: list[_Entry], send: Any) -> None:
        """Send the missed EVENTs in order: on a WebSocket as one write of frames built once
        per message for every recovering client, else packet by packet."""
        write = self._frame_writer(eio_sid)
        if write is None:
            for entry in missed:
                send(eio_sid, self._event_packet(entry))
            return
        frames: list[bytes] = []
        for entry in missed:
            if entry.frame is None:
                pkt = self._event_packet(entry)
                encoded = pkt.encode()
                if not isinstance(encoded, str):  # binary: a packet and its attachments
                    if frames:
                        write(b"".join(frames))
                        frames = []
                    send(eio_sid, pkt)
                    continue
                self.history.charge_frame(entry, frame_bytes(_TEXT, ("4" + encoded).encode()))
            assert entry.frame is not None
            frames.append(entry.frame)
        if frames:
            write(b"".join(frames))

    def _frame_writer(self, eio_sid: str) -> Callable[[bytes], None] | None:
        """The writer of this connection's WebSocket, if it speaks one now (None: polling,
        upgrading, closing or gone)."""
        from pushsvc.engineio.session import Session  # pushsvc's engine: gevent only

        session = self.server.eio.sockets.get(eio_sid)
        if not isinstance(session, Session) or session.closed:
            return None
        ws = session.ws
        if ws is None or ws.closed or session.closing:
            return None
        return ws.write

    def _event_packet(self, entry: _Entry) -> Packet:
        message = entry.message
        data = list(message.get("data") or [])
        if message.get("binary") and data:
            attachments = [base64.b64decode(a) for a in data[1:]]
            data = list(Packet.reconstruct_binary(data[0], attachments))
        return Packet(sio_packet.EVENT, namespace="/",
                      data=[message.get("event"), *data, offset_text(entry.pos)])

