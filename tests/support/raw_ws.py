"""A WebSocket client made of raw frames, for tests that must send what no library sends.

``FrameSocket`` does the RFC 6455 upgrade by hand on a plain socket, then sends frames
exactly as asked (fragmented, control frames, invalid UTF-8, any opcode) and reads the
server's frames one by one (``recv_frame``), so a test sees close codes and every message
in order. Frames are masked, as a client's must be.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from urllib.parse import urlsplit

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    length = len(payload)
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class ConnectionClosed(Exception):
    pass


class FrameSocket:
    """One raw WebSocket connection to ``url`` + ``path`` (``/socket.io/?EIO=4&...``)."""

    def __init__(self, url: str, path: str, *, timeout: float = 10.0,
                 source_address: str | None = None) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source_address, 0) if source_address else None)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        self._buffer = b""
        head = self._read_until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.head = head.decode("latin-1")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed(self._buffer[:200])
            self._buffer += chunk
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def _read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed()
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True) -> None:
        self.sock.sendall(client_frame(opcode, payload, fin=fin))

    def send_text(self, text: str) -> None:
        self.send_frame(TEXT, text.encode())

    def recv_frame(self) -> tuple[int, bytes]:
        """The next frame the server sends: ``(opcode, payload)``; raises at end of stream."""
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        return first & 0x0F, self._read_exactly(length)

    def recv_text(self) -> str:
        """The next text message, skipping server PINGs (``2``) if asked to by the caller."""
        opcode, payload = self.recv_frame()
        if opcode == CLOSE:
            raise ConnectionClosed(payload)
        return payload.decode()

    def recv_until_closed(self, limit: int = 10000) -> int | None:
        """Read until the server closes; the close code it sent, or None for no close frame."""
        for _ in range(limit):
            try:
                opcode, payload = self.recv_frame()
            except (ConnectionClosed, OSError):
                return None
            if opcode == CLOSE:
                return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else 1005
        raise AssertionError("the server kept sending")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> FrameSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def closed_by_server(ws: FrameSocket, *, within: float = 10.0) -> bool:
    """Whether the server ends the connection (close frame or EOF) before ``within`` s pass
    without a frame; server PINGs (``2``) are answered so only a close ends the wait."""
    ws.sock.settimeout(within)
    while True:
        try:
            opcode, payload = ws.recv_frame()
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False
        except OSError:
            return True
        if opcode == CLOSE:
            return True
        if opcode == TEXT and payload == b"2":
            ws.send_text("3")
