"""Engine.IO v4 packets and long-polling payloads: the wire format, and nothing else.

Why our own: python-engineio's ``Packet``/``Payload`` decode JSON for every packet and
answer some malformed payloads with an exception deep in a request. Here a packet is a
type digit and its data; a payload is packets joined by the record separator ``\\x1e``,
binary ones as ``b`` + base64 (protocol v4, the engine.io-protocol README). A frame we
send is encoded once per packet and cached on it, so a room emit that shares one packet
between its recipients shares the bytes too (``encoded_text`` / ``ws_frame``).

Packets python-socketio hands us are ``engineio.packet.Packet`` objects (its manager
builds them for broadcasts) or plain ``str``/``bytes`` messages; both are accepted.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)
SEPARATOR = "\x1e"
_TYPES = frozenset("0123456")
_TEXT_CACHE = "_pushsvc_text"
_FRAME_CACHE = "_pushsvc_frame"


class BadPacket(ValueError):
    """A packet or payload that does not follow the protocol: the session is closed."""


def decode_text(text: str) -> tuple[int, str]:
    """One text packet (a WebSocket text frame, or one part of a polling payload)."""
    if not text or text[0] not in _TYPES:
        raise BadPacket("unknown Engine.IO packet type")
    return int(text[0]), text[1:]


def decode_payload(body: str, max_packets: int) -> list[tuple[int, str | bytes]]:
    """A long-polling POST body: packets separated by ``\\x1e``, binary as ``b``+base64."""
    parts = body.split(SEPARATOR, max_packets)
    if len(parts) > max_packets:
        raise BadPacket(f"more than {max_packets} packets in one payload")
    packets: list[tuple[int, str | bytes]] = []
    for part in parts:
        if part[:1] == "b":
            try:
                packets.append((MESSAGE, base64.b64decode(part[1:], validate=True)))
            except (binascii.Error, ValueError) as exc:
                raise BadPacket("invalid base64 in a binary packet") from exc
        else:
            packets.append(decode_text(part))
    return packets


def _kind_and_data(pkt: Any) -> tuple[int, Any]:
    """``(type, data)`` of an ``engineio.packet.Packet``, a str or bytes message."""
    if isinstance(pkt, str | bytes | bytearray):
        return MESSAGE, pkt
    return int(pkt.packet_type), pkt.data


def _data_text(data: Any, json: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    if isinstance(data, int | float) and not isinstance(data, bool):
        return str(data)
    return str(json.dumps(data, separators=(",", ":")))


def encoded_text(pkt: Any, json: Any) -> str:
    """The packet as it goes in a polling payload (binary as ``b``+base64), cached."""
    cached = getattr(pkt, _TEXT_CACHE, None)
    if cached is not None:
        return str(cached)
    kind, data = _kind_and_data(pkt)
    if isinstance(data, bytes | bytearray):
        text = "b" + base64.b64encode(bytes(data)).decode("ascii")
    else:
        text = str(kind) + _data_text(data, json)
    _cache(pkt, _TEXT_CACHE, text)
    return text


def ws_frame(pkt: Any, json: Any) -> bytes:
    """The packet as one unmasked server WebSocket frame (RFC 6455 5.2), cached."""
    cached = getattr(pkt, _FRAME_CACHE, None)
    if cached is not None:
        return bytes(cached)
    kind, data = _kind_and_data(pkt)
    if isinstance(data, bytes | bytearray):
        frame = frame_bytes(0x2, bytes(data))
    else:
        frame = frame_bytes(0x1, (str(kind) + _data_text(data, json)).encode("utf-8"))
    _cache(pkt, _FRAME_CACHE, frame)
    return frame


def frame_bytes(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked frame: what a server sends (no extension is negotiated)."""
    length = len(payload)
    first = 0x80 | opcode
    if length < 126:
        header = struct.pack("!BB", first, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, 126, length)
    else:
        header = struct.pack("!BBQ", first, 127, length)
    return header + payload


def packet_size(pkt: Any) -> int:
    """Bytes a packet holds while queued (its data; the frame header is noise)."""
    _kind, data = _kind_and_data(pkt)
    if isinstance(data, str | bytes | bytearray):
        return len(data) + 1
    return 16


def _cache(pkt: Any, attribute: str, value: Any) -> None:
    if isinstance(pkt, str | bytes | bytearray):
        return
    try:
        setattr(pkt, attribute, value)
    except AttributeError:  # a packet class with __slots__: encode again next time
        pass


class Packet:
    """A packet the engine itself sends (PING, CLOSE, NOOP...)."""

    __slots__ = ("packet_type", "data", "_pushsvc_text", "_pushsvc_frame")

    def __init__(self, packet_type: int, data: Any = None) -> None:
        self.packet_type = packet_type
        self.data = data
