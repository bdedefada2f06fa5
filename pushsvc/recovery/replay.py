"""What a recovered client missed, sent before its CONNECT reply: frames built once."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from engineio import packet as eio_packet
from socketio import packet as sio_packet
from socketio.packet import Packet

from pushsvc.recovery.history import _Entry
from pushsvc.recovery.snapshot import offset_text
from pushsvc.recovery.tap import Tap

if TYPE_CHECKING:
    from pushsvc.wsdirect import DirectWriter


class Replay(Tap):
    """The replay of missed messages."""

    def _replay(self, eio_sid: str, missed: list[_Entry], send: Any) -> None:
        """Send the missed EVENTs in order: on a WebSocket as one write of frames built once
        per message for every recovering client (a storm replays the same few seconds to
        a thousand of them), else packet by packet."""
        writer = self._direct_writer(eio_sid)
        if writer is None:
            for entry in missed:
                send(eio_sid, self._event_packet(entry))
            return
        from pushsvc.wsdirect import encode_frame  # under gevent only, as the writer

        frames: list[bytes] = []
        for entry in missed:
            if entry.frame is None:
                pkt = self._event_packet(entry)
                encoded = pkt.encode()
                if not isinstance(encoded, str):  # binary: a packet and its attachments
                    if frames:
                        writer.write(b"".join(frames))
                        frames = []
                    send(eio_sid, pkt)
                    continue
                self.history.charge_frame(entry, encode_frame(
                    eio_packet.Packet(eio_packet.MESSAGE, data=encoded)))
            assert entry.frame is not None
            frames.append(entry.frame)
        if frames:
            writer.write(b"".join(frames))

    def _direct_writer(self, eio_sid: str) -> DirectWriter | None:
        from pushsvc.wsdirect import DirectWriter

        socket = self.server.eio.sockets.get(eio_sid)
        queue = getattr(socket, "queue", None)
        if socket is None or socket.closed or not isinstance(queue, DirectWriter):
            return None
        return queue

    def _event_packet(self, entry: _Entry) -> Packet:
        message = entry.message
        data = list(message.get("data") or [])
        if message.get("binary") and data:
            attachments = [base64.b64decode(a) for a in data[1:]]
            data = list(Packet.reconstruct_binary(data[0], attachments))
        return Packet(sio_packet.EVENT, namespace="/",
                      data=[message.get("event"), *data, offset_text(entry.pos)])
