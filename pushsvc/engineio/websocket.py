"""WebSocket on a gevent socket, with wsproto parsing what the client sends.

Why this design:

- **The socket.** pushsvc's worker (``worker.py``) puts the raw socket in the WSGI environ;
  the engine answers the upgrade itself (``101`` with ``Sec-WebSocket-Accept``) and keeps the
  request's greenlet as the reader, so a WebSocket costs one greenlet, no gevent-websocket.
- **Reading** goes through wsproto's sans-IO frame parser: it unmasks with
  ``bytes.translate`` and checks UTF-8 with the C incremental decoder, once per text frame.
  Each message is bounded in frames (``max_frames_per_message``) and bytes (``maxPayload``)
  while it arrives, so thousands of one-byte frames are refused, not assembled. PING and
  PONG control frames share a token bucket; past it the connection closes (1008).
- **Writing** (the ``wsdirect.py`` design): server frames are built once per packet
  (``packets.ws_frame``) and written with a non-blocking send by the greenlet that emits.
  Only when the kernel's buffer is full does the rest wait in a list that one writer
  greenlet flushes, then exits; what waits counts toward ``max_queued_bytes`` (slow reader).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket as _socket
import time
from collections.abc import Callable
from typing import Any

import gevent
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError

from pushsvc import metrics
from pushsvc.engineio.bounds import Limits, TokenBucket

log = logging.getLogger(__name__)

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_READ_BYTES = 16384
# How long the reader waits, once the WebSocket is over, for its writer greenlet to flush what
# is left (a close frame) before aborting it: the socket is closed only after the writer ended.
WRITER_DRAIN_SECONDS = 5.0
POLICY_VIOLATION, TOO_BIG = 1008, 1009


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def handshake_error(environ: dict[str, Any]) -> str | None:
    """Why this request is not a WebSocket upgrade we take, or ``None``."""
    if str(environ.get("HTTP_UPGRADE", "")).lower() != "websocket":
        return "not a WebSocket upgrade"
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13":
        return "unsupported WebSocket version"
    key = str(environ.get("HTTP_SEC_WEBSOCKET_KEY", ""))
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return "bad Sec-WebSocket-Key"
    except ValueError:
        return "bad Sec-WebSocket-Key"
    return None


def _nonblocking_send(sock: Any) -> Callable[[bytes], int]:
    """A send that never waits: the real socket under gevent's wrapper is non-blocking."""
    real = getattr(sock, "_sock", None)
    if real is not None and real.gettimeout() == 0.0:
        send: Callable[[bytes], int] = real.send
        return send
    return lambda data: int(sock.send(data, _socket.MSG_DONTWAIT))


class WebSocket:
    """One accepted WebSocket: reader loop, direct writes, bounded messages."""

    __slots__ = ("sock", "limits", "conn", "closed", "close_reason", "_send_now", "_waiting",
                 "_waiting_bytes", "_writer", "_on_overflow", "_control", "__weakref__")

    def __init__(self, sock: Any, limits: Limits, on_overflow: Callable[[], None]) -> None:
        self.sock = sock
        self.limits = limits
        self.conn = Connection(ConnectionType.SERVER)
        self.closed = False
        self.close_reason = ""
        self._send_now = _nonblocking_send(sock)
        self._waiting: list[bytes] | None = None
        self._waiting_bytes = 0
        self._writer: gevent.Greenlet | None = None
        self._on_overflow = on_overflow
        self._control = TokenBucket(limits.control_frames_per_second,
                                    limits.control_frames_burst, time.monotonic())

    def accept(self, key: str) -> None:
        self.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(key).encode("ascii") + b"\r\n\r\n")

    # -- writing -----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if self._waiting is not None:
            self._waiting.append(data)
            self._waiting_bytes += len(data)
            if self._waiting_bytes > self.limits.max_queued_bytes:
                self._waiting = None
                self._on_overflow()
                self.abort()
            return
        try:
            sent = self._send_now(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.abort()
            return
        if sent < len(data):
            self._waiting = [data[sent:]]
            self._waiting_bytes = len(data) - sent
            metrics.ws_backpressured.inc()
            metrics.ws_writer_greenlets.inc()
            self._writer = gevent.spawn(self._flush)

    def _flush(self) -> None:
        try:
            while self._waiting:
                data = b"".join(self._waiting)
                self._waiting = []
                self._waiting_bytes = 0
                self.sock.sendall(data)
        except OSError:
            self.abort()
        finally:
            metrics.ws_writer_greenlets.dec()
            self._waiting = None
            if self.closed:
                self._shutdown()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (after what is waiting) and end the connection."""
        if self.closed:
            return
        try:
            frame = self.conn.send(CloseConnection(code=code, reason=reason))
        except LocalProtocolError:
            frame = b""
        if frame:
            self.write(frame)
        self.closed = True
        if self._waiting is None:
            self._shutdown()

    def abort(self) -> None:
        self.closed = True
        self._waiting = None
        self._shutdown()

    def release(self) -> None:
        """Before the socket is given back to be closed: end the writer greenlet first.

        pywsgi closes the socket once the request's greenlet (the reader) returns; a writer
        still waiting to send on it then left libev an I/O watcher on a closed descriptor,
        and libev aborts the whole worker (a slow reader shed was enough).
        """
        writer = self._writer
        if writer is None or writer.dead:
            return
        writer.join(timeout=WRITER_DRAIN_SECONDS)
        if not writer.dead:
            self.abort()
            writer.kill()

    def _shutdown(self) -> None:
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass

    # -- reading -----------------------------------------------------------------------------
    def messages(self, on_message: Callable[[str | bytes], None]) -> None:
        """Read until the connection ends, handing each whole message to ``on_message``."""
        parts: list[Any] = []
        size = frames = 0
        while not self.closed:
            try:
                data = self.sock.recv(_READ_BYTES)
            except OSError:
                data = b""
            self.conn.receive_data(data or None)
            for event in self.conn.events():
                if isinstance(event, TextMessage | BytesMessage):
                    parts.append(event.data)
                    size += len(event.data)
                    frames += event.frame_finished
                    if frames > self.limits.max_frames_per_message:
                        self.close(POLICY_VIOLATION, "too many frames in one message")
                        self.close_reason = "too_many_frames"
                        return
                    if size > self.limits.max_payload:
                        self.close(TOO_BIG, "message too big")
                        self.close_reason = "too_large"
                        return
                    if event.message_finished:
                        text = isinstance(event, TextMessage)
                        joined = "".join(parts) if text else b"".join(parts)
                        parts, size, frames = [], 0, 0
                        on_message(joined)
                        if self.closed:
                            return
                elif isinstance(event, Ping | Pong):
                    if not self._control.take(time.monotonic()):
                        self.close(POLICY_VIOLATION, "too many control frames")
                        self.close_reason = "control_frames"
                        return
                    if isinstance(event, Ping):
                        self.write(self.conn.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if self.conn.state is ConnectionState.REMOTE_CLOSING:
                        self.write(self.conn.send(event.response()))
                    elif self.conn.state is ConnectionState.OPEN:  # a frame wsproto refused
                        self.close_reason = "bad_frame"
                        self.close(event.code, event.reason or "")
                        return
                    self.closed = True
                    if self._waiting is None:
                        self._shutdown()
                    return
            if not data:
                self.closed = True
                return
            gevent.sleep(0)  # a client sending without pause does not hold the worker
