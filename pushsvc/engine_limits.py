"""Bounds on the Engine.IO / Socket.IO packet layer, enforced before any pushsvc handler runs.

python-engineio and python-socketio trust their peer: the per-client send queue grows
without bound, a binary packet may announce 10^10 attachments (each buffered), every
handshake makes a session kept until its ping timeout, and a deeply nested packet reaches
``json.loads`` (a ``RecursionError`` and a traceback per message). ``install()`` puts these
bounds in front of them:

- **Slow readers.** Each session's outgoing queue counts the bytes it holds; past
  ``max_queued_bytes_per_client`` the queue is emptied, the client is disconnected with
  reason ``slow_reader`` (a WebSocket's TCP connection is shut down, so the writer greenlet
  blocked on a full socket wakes up) and the packets are freed.
- **Binary attachments.** A packet announcing more than ``max_binary_attachments`` (or
  none) closes the connection; a packet with its attachments counts toward the hard limit
  (4 x ``max_message_bytes``), and so does a WebSocket message made of many frames: past
  it the connection is closed, before the bytes are buffered.
- **Sessions and handshakes.** Engine.IO sessions are bounded per client address and in
  total, handshakes per address by a token bucket; a refused polling handshake gets HTTP
  429/503 with a short plain-text reason, a refused WebSocket one a close frame (1008).
  The address is the peer's, or X-Forwarded-For's when the peer is a trusted proxy.
- **Malformed packets.** JSON nesting deeper than ``max_json_depth`` is refused before
  parsing (the client gets an ``error`` event, code ``too_deep``); any other undecodable
  Socket.IO packet is dropped; an undecodable Engine.IO frame or polling payload closes
  the connection. Each is counted and logged once per client, without a traceback.

What is replaced or wrapped in the pinned versions (python-engineio 4.15, python-socketio
5.18, gevent-websocket 0.10); ``tests/unit/test_engine_limits_match_the_pinned_libraries.py``
fails when one of them changes:

- ``engineio.Server`` is swapped for ``_LimitedEngineIOServer`` (``__class__`` of the
  server Flask-SocketIO built), which overrides ``engineio.Server.create_queue`` and answers
  a POST to a closed session before ``engineio.Server.handle_request`` (whose
  ``engineio.base_server.BaseServer._get_socket`` raises an uncaught KeyError for it). It relies
  on how the queue is used: ``engineio.socket.Socket.send``, ``engineio.socket.Socket.poll``,
  ``engineio.socket.Socket.close``, ``engineio.socket.Socket._websocket_handler``; on where
  it is made, ``engineio.base_socket.BaseSocket.__init__``; and on
  ``engineio.Server._handle_connect`` (the ``connect`` event gets the environ).
- The gevent driver's ``engineio.async_drivers.gevent.WebSocketWSGI`` is subclassed
  (``__call__``, ``wait``) and set in that server's ``_async["websocket"]``; its
  ``raw_read`` bound relies on ``geventwebsocket.websocket.WebSocket.read_frame`` and
  ``geventwebsocket.websocket.WebSocket.receive``. Its frame checks mirror
  ``engineio.packet.Packet.decode``.
- The Engine.IO ``connect``, ``disconnect`` and ``message`` handlers that
  ``socketio.base_server.BaseServer.__init__`` registers are wrapped; ``message`` wraps
  ``socketio.Server._handle_eio_message`` and reads ``socketio.Server._binary_packet``
  (which ``socketio.Server._handle_disconnect`` clears).
- ``socketio.Server.packet_class`` is set to a subclass of ``socketio.packet.Packet``
  overriding ``socketio.packet.Packet.decode`` and ``socketio.packet.Packet.add_attachment``.
- The WSGI app is wrapped (``EngineGuard.wsgi``): handshakes are admitted there before
  ``engineio.Server.handle_request`` runs, and long-polling POST bodies are checked against
  ``engineio.payload.Payload.decode`` and ``engineio.socket.Socket.handle_post_request``
  before Engine.IO reads them.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import logging
import socket as _socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import engineio
import gevent.queue
import socketio
from engineio import packet as eio_packet
from engineio.async_drivers import gevent as eio_gevent
from socketio import packet as sio_packet

from emitter.wire import json_depth_exceeds
from pushsvc import metrics
from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

SLOW_READER = "slow_reader"
ERROR_EVENT = "error"
_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_ADDRESS_KEY = "pushsvc.client_address"
_MAX_PAYLOAD_PACKETS = 16  # engineio.payload.Payload.max_decode_packets
_BUCKETS_PRUNE_AT = 10000
_LOGGED_ADDRESSES_MAX = 10000


@dataclass(frozen=True)
class EngineLimits:
    """The packet-layer limits, taken from ``Settings``."""

    max_queued_bytes: int
    max_attachments: int
    max_json_depth: int
    hard_limit_bytes: int
    max_sessions_total: int
    max_sessions_per_address: int
    handshakes_per_second: float
    handshake_burst: int
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineLimits:
        return cls(
            max_queued_bytes=settings.max_queued_bytes_per_client,
            max_attachments=settings.max_binary_attachments,
            max_json_depth=settings.max_json_depth,
            hard_limit_bytes=settings.hard_message_limit_bytes,
            max_sessions_total=settings.max_sessions_total,
            max_sessions_per_address=settings.max_sessions_per_address,
            handshakes_per_second=settings.handshakes_per_second_per_address,
            handshake_burst=settings.handshake_burst_per_address,
            trusted_proxies=tuple(
                ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies
            ),
        )


# --- JSON depth ----------------------------------------------------------------------

def json_too_deep(text: str, max_depth: int) -> bool:
    """True if the JSON in ``text`` nests deeper than ``max_depth`` (the bus's own check,
    ``emitter.wire.json_depth_exceeds``: no recursion, linear time)."""
    return json_depth_exceeds(text, max_depth)


# --- Socket.IO packets -----------------------------------------------------------------


class BadPacket(ValueError):
    """A Socket.IO packet refused before any handler; ``code`` is stable, ``reason`` safe."""

    code = "bad_packet"
    closes = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooDeep(BadPacket):
    code = "too_deep"


class TooManyAttachments(BadPacket):
    code = "too_many_attachments"
    closes = True


class LimitedPacket(sio_packet.Packet):
    """python-socketio's packet, decoded only within the limits (set on a subclass)."""

    max_json_depth = 32
    max_attachments = 10

    def decode(self, encoded_packet: Any) -> int:
        if not isinstance(encoded_packet, str) or not encoded_packet:
            raise BadPacket("a Socket.IO packet must be a non-empty text frame")
        if encoded_packet[0] in "56":
            # python-socketio accepts up to 10 digits (10^10 attachments): check first.
            dash = encoded_packet.find("-", 1, 32)
            digits = encoded_packet[1:dash] if dash > 1 else ""
            if digits.isdigit() and int(digits) > self.max_attachments:
                raise TooManyAttachments(self._attachments_reason(int(digits)))
        if json_too_deep(encoded_packet, self.max_json_depth):
            raise TooDeep(f"JSON nested deeper than {self.max_json_depth} levels")
        try:
            count = int(super().decode(encoded_packet) or 0)
        except (ValueError, TypeError, IndexError, RecursionError) as exc:
            raise BadPacket("undecodable Socket.IO packet") from exc
        kind = self.packet_type
        if kind in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK):
            if count < 1 or count > self.max_attachments:
                raise TooManyAttachments(self._attachments_reason(count))
        elif count:
            raise BadPacket("attachments announced on a packet that is not binary")
        if kind not in range(len(sio_packet.packet_names)) or kind == sio_packet.CONNECT_ERROR:
            raise BadPacket("unknown Socket.IO packet type")
        data = self.data
        if kind in (sio_packet.EVENT, sio_packet.BINARY_EVENT) and not (
            isinstance(data, list) and data and isinstance(data[0], str)
        ):
            raise BadPacket("an event must be a list starting with its name")
        if kind in (sio_packet.ACK, sio_packet.BINARY_ACK) and (
            not isinstance(data, list) or self.id is None
        ):
            raise BadPacket("an ack must carry an id and a list")
        return count

    def _attachments_reason(self, count: int) -> str:
        return (f"a binary packet announced {count} attachments; the limit is "
                f"{self.max_attachments} (PUSHSVC_MAX_BINARY_ATTACHMENTS)")

    def add_attachment(self, attachment: Any) -> bool:
        if not isinstance(attachment, bytes | bytearray):
            raise BadPacket("a text frame arrived where a binary attachment was announced")
        try:
            return bool(super().add_attachment(attachment))
        except (ValueError, TypeError, IndexError, KeyError, RecursionError) as exc:
            raise BadPacket("binary placeholders do not match the attachments") from exc


def _namespace_of(text: str) -> str:
    """The namespace of an encoded Socket.IO packet, parsed as python-socketio does."""
    rest = text[1:]
    dash = rest.find("-")
    if dash > 0 and rest[:dash].isdigit():
        rest = rest[dash + 1 :]
    if rest.startswith("/"):
        end = [i for i in (rest.find(","), rest.find("?")) if i != -1]
        return rest[: min(end)] if end else rest
    return "/"


# --- the outgoing queue ----------------------------------------------------------------


def _packet_size(pkt: Any) -> int:
    """Bytes a queued Engine.IO packet holds (text counted in characters, not re-encoded)."""
    data = pkt.data
    if data.__class__ is str or data.__class__ is bytes or isinstance(data, bytearray):
        return len(data) + 1
    return 64


class _BoundedSendQueue:
    """A session's outgoing queue that counts its bytes and overflows instead of growing.

    ``put`` runs in whichever greenlet emits (often another client's handler): on overflow
    it only empties itself and schedules the disconnect, never blocks nor raises. It wraps
    gevent's JoinableQueue rather than subclassing it: attributes on a subclass of that
    compiled class made every put/get several times slower, and this is on the path of
    every delivery. engineio.socket.Socket uses put, get, task_done and join.
    """

    __slots__ = ("_queue", "cap", "queued_bytes", "overflowed", "sid", "_on_overflow",
                 "task_done", "join")

    def __init__(self, *args: Any, cap: int, on_overflow: Callable[[_BoundedSendQueue], None],
                 **kwargs: Any) -> None:
        self._queue = gevent.queue.JoinableQueue(*args, **kwargs)
        self.cap = cap
        self.queued_bytes = 0
        self.overflowed = False
        self.sid: str | None = None
        self._on_overflow = on_overflow
        self.task_done = self._queue.task_done
        self.join = self._queue.join

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            if self.overflowed:
                if item.packet_type != eio_packet.CLOSE:
                    return  # being disconnected: only the CLOSE packet and the end pass
            else:
                size = _packet_size(item)
                if self.queued_bytes + size > self.cap:
                    self.overflowed = True
                    self._drain()
                    self._on_overflow(self)
                    return
                self.queued_bytes += size
        self._queue.put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        item = self._queue.get(block, timeout)
        if item is not None and not self.overflowed:
            self.queued_bytes -= _packet_size(item)
        return item

    def qsize(self) -> int:
        return int(self._queue.qsize())

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get(False)
            except gevent.queue.Empty:
                break
            self.task_done()
        self.queued_bytes = 0

class _LimitedEngineIOServer(engineio.Server):
    """engineio.Server whose sessions get a bounded outgoing queue."""

    pushsvc_guard: EngineGuard

    def handle_request(self, environ: dict[str, Any], start_response: Callable[..., Any]
                       ) -> Any:
        # A POST for a session that was just closed (a limit, a bad frame) reaches
        # _get_socket's KeyError('Session is disconnected'), which handle_request does not
        # catch: a 500 with a traceback per request. Answer it as the unknown session it is.
        if environ.get("REQUEST_METHOD") == "POST":
            sid = parse_qs(str(environ.get("QUERY_STRING", ""))).get("sid", [""])[0]
            sock = self.sockets.get(sid) if sid else None
            if sock is not None and sock.closed:
                self.sockets.pop(sid, None)
                r = self._bad_request("Session is disconnected")
                start_response(r["status"], r["headers"])
                return [r["response"]]
        return super().handle_request(environ, start_response)

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        guard = self.pushsvc_guard
        return _BoundedSendQueue(
            *args, cap=guard.limits.max_queued_bytes, on_overflow=guard.queue_overflowed,
            **kwargs,
        )


class _FrameTooLarge(Exception):
    """Raised inside gevent-websocket's frame read; it turns it into a closed socket."""


class _GuardedWebSocketWSGI(eio_gevent.WebSocketWSGI):
    """The gevent-websocket wrapper Engine.IO uses, with frame checks and a byte budget."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self._guard: EngineGuard = server.pushsvc_guard
        self._eio_sid: str = getattr(getattr(handler, "__self__", None), "sid", "?")
        self._budget = 0
        self._closed_reason: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        ws = environ.get("wsgi.websocket")
        if ws is None:
            return super().__call__(environ, start_response)
        read = ws.raw_read

        def bounded_read(n: int) -> bytes:
            # gevent-websocket reads a whole frame (and joins continuation frames) before
            # Engine.IO's size check: refuse the bytes before they are buffered.
            if n > self._budget:
                self._closed_reason = "too_large"
                raise _FrameTooLarge()
            self._budget -= n
            return bytes(read(n))

        ws.raw_read = bounded_read
        self._guard.websocket_opened(self._eio_sid, ws)
        try:
            return super().__call__(environ, start_response)
        finally:
            self._guard.websocket_closed(self._eio_sid, ws)

    def wait(self) -> Any:
        self._budget = self._guard.limits.hard_limit_bytes
        data = super().wait()
        if data is None and self._closed_reason == "too_large":
            self._guard.close_for(self._eio_sid, "too_large",
                                  f"a WebSocket message exceeded the hard limit of "
                                  f"{self._guard.limits.hard_limit_bytes} bytes "
                                  "(4 x PUSHSVC_MAX_MESSAGE_BYTES)", shut=False)
            return None
        if isinstance(data, str) and not engine_frame_ok(data):
            self._guard.close_for(self._eio_sid, "bad_frame", "an undecodable Engine.IO frame",
                                  shut=False)
            return None  # Engine.IO ends the connection as if the client closed it
        return data


def engine_frame_ok(text: str) -> bool:
    """Whether ``engineio.packet.Packet.decode`` accepts this text packet without raising."""
    if not text:
        return False
    first = text[0]
    if first == "b":
        try:
            base64.b64decode(text[1:])
        except (binascii.Error, ValueError):
            return False
        return True
    return first.isdigit() and first.isascii()


def polling_payload_ok(body: bytes) -> bool:
    """Whether ``engineio.payload.Payload.decode`` accepts a long-polling POST body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not text:
        return True
    if text.startswith("d="):
        values = parse_qs(text).get("d")
        if not values:
            return False
        text = values[0]
    packets = text.split("\x1e")
    return len(packets) <= _MAX_PAYLOAD_PACKETS and all(engine_frame_ok(p) for p in packets)


# --- addresses, sessions and handshakes --------------------------------------------------


def client_address(environ: dict[str, Any], trusted: tuple[Any, ...]) -> str:
    """The client's address: the peer's, or the X-Forwarded-For hop a trusted proxy saw.

    X-Forwarded-For is read right to left, skipping trusted proxies; the first untrusted
    hop is the client. A peer that is not trusted could have written any header: ignored.
    """
    peer = str(environ.get("REMOTE_ADDR") or "?")
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "")
    address = peer
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # garbage left of a trusted hop: trust stops there
        address = hop
        if not _is_trusted(hop, trusted):
            return hop
    return address


def address_of(environ: dict[str, Any]) -> str:
    """The client address the handshake admission found for this Engine.IO session (see
    :func:`client_address`); the peer's if the session did not pass the admission."""
    return str(environ.get(_ADDRESS_KEY) or environ.get("REMOTE_ADDR") or "?")


def _is_trusted(address: str, trusted: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


class _Admission:
    """Sessions per address and in total, and a handshake token bucket per address."""

    def __init__(self, limits: EngineLimits) -> None:
        self.limits = limits
        self.by_sid: dict[str, str] = {}
        self.per_address: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}

    def refusal(self, address: str, now: float) -> tuple[str, int, str] | None:
        """``(reason, HTTP status, text for the client)`` if this handshake is refused."""
        limits = self.limits
        if len(self.by_sid) >= limits.max_sessions_total:
            return ("sessions_total", 503, "server is at its session limit; retry later")
        if self.per_address.get(address, 0) >= limits.max_sessions_per_address:
            return ("sessions_per_address", 429, "too many sessions from this address")
        tokens, last = self._buckets.get(address, (float(limits.handshake_burst), now))
        tokens = min(float(limits.handshake_burst),
                     tokens + (now - last) * limits.handshakes_per_second)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            return ("handshake_rate", 429, "too many handshakes from this address; slow down")
        self._buckets[address] = (tokens - 1.0, now)
        if len(self._buckets) > _BUCKETS_PRUNE_AT:
            self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        refill = self.limits.handshake_burst / self.limits.handshakes_per_second
        self._buckets = {a: b for a, b in self._buckets.items() if now - b[1] < refill}

    def add(self, sid: str, address: str) -> None:
        if sid in self.by_sid:
            return
        self.by_sid[sid] = address
        self.per_address[address] = self.per_address.get(address, 0) + 1

    def remove(self, sid: str) -> None:
        address = self.by_sid.pop(sid, None)
        if address is None:
            return
        left = self.per_address.get(address, 1) - 1
        if left > 0:
            self.per_address[address] = left
        else:
            self.per_address.pop(address, None)


# --- the guard -------------------------------------------------------------------------


class EngineGuard:
    """The limits of one Socket.IO server: its hooks, per-session state and the WSGI check."""

    def __init__(self, server: socketio.Server, limits: EngineLimits) -> None:
        self.server = server
        self.eio: Any = server.eio
        self.limits = limits
        self.admission = _Admission(limits)
        # Read when scraped: a gauge set on every connect and disconnect took a lock each time.
        metrics.engine_sessions.set_function(lambda: len(self.admission.by_sid))
        self._websockets: dict[str, Any] = {}
        self._pending_bytes: dict[str, int] = {}
        self._logged: dict[str, set[str]] = {}
        self._logged_addresses: set[tuple[str, str]] = set()

    # -- Engine.IO events ----------------------------------------------------------------
    def wrap_handlers(self) -> None:
        handlers = self.eio.handlers
        on_connect, on_disconnect = handlers["connect"], handlers["disconnect"]
        on_message = handlers["message"]

        def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            address = environ.get(_ADDRESS_KEY) or client_address(
                environ, self.limits.trusted_proxies)
            self.admission.add(eio_sid, address)
            session = self.eio.sockets.get(eio_sid)
            if session is not None and isinstance(session.queue, _BoundedSendQueue):
                session.queue.sid = eio_sid
            return on_connect(eio_sid, environ)

        def disconnect(eio_sid: str, reason: Any = None) -> Any:
            try:
                return on_disconnect(eio_sid, reason)
            finally:
                self.admission.remove(eio_sid)
                self._pending_bytes.pop(eio_sid, None)
                self._logged.pop(eio_sid, None)

        def message(eio_sid: str, data: Any) -> Any:
            return self.on_message(eio_sid, data, on_message)

        handlers["connect"], handlers["disconnect"] = connect, disconnect
        handlers["message"] = message

    def on_message(self, eio_sid: str, data: Any, dispatch: Callable[[str, Any], Any]) -> None:
        """Check an Engine.IO message, then hand it to python-socketio's dispatcher."""
        session = self.eio.sockets.get(eio_sid)
        if session is None or session.closing or session.closed:
            return  # closed for a limit: what is still in flight is not read
        binary_packets: dict[str, Any] = self.server._binary_packet
        waiting = eio_sid in binary_packets
        if waiting:
            total = self._pending_bytes.get(eio_sid, 0) + (
                len(data) if isinstance(data, bytes | bytearray | str) else 0)
            if total > self.limits.hard_limit_bytes:
                binary_packets.pop(eio_sid, None)
                self._pending_bytes.pop(eio_sid, None)
                self.close_for(eio_sid, "too_large",
                               f"a binary packet with its attachments exceeded the hard "
                               f"limit of {self.limits.hard_limit_bytes} bytes "
                               "(4 x PUSHSVC_MAX_MESSAGE_BYTES)")
                return
            self._pending_bytes[eio_sid] = total
        elif not isinstance(data, str):
            self._refuse(eio_sid, BadPacket("a binary frame no packet announced"), None)
            return
        elif not data:
            # Packet("") skips decode() and stays a default EVENT with no data, which
            # python-socketio's _handle_event then indexes: refuse it here.
            self._refuse(eio_sid, BadPacket("an empty Socket.IO packet"), None)
            return
        elif data[:1] in ("5", "6") and self.server.manager.sid_from_eio_sid(
                eio_sid, _namespace_of(data)) is None:
            self._refuse(eio_sid, BadPacket("a binary packet before connecting"), None)
            return
        try:
            dispatch(eio_sid, data)
        except BadPacket as exc:
            if waiting:
                binary_packets.pop(eio_sid, None)
            if exc.closes:
                self.close_for(eio_sid, exc.code, exc.reason)
            else:
                self._refuse(eio_sid, exc, data if isinstance(data, str) else None)
            return
        if eio_sid in binary_packets:
            if not waiting:
                self._pending_bytes[eio_sid] = len(data)
        else:
            self._pending_bytes.pop(eio_sid, None)

    def _refuse(self, eio_sid: str, exc: BadPacket, text: str | None) -> None:
        metrics.engine_refused_packets.labels(reason=exc.code).inc()
        self._log_once(eio_sid, exc.code, "refused a Socket.IO packet from engine.io sid %s: "
                       "%s (%s); further ones from this client are counted, not logged",
                       eio_sid, exc.code, exc.reason)
        if isinstance(exc, TooDeep) and text is not None:
            namespace = _namespace_of(text)
            sid = self.server.manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None:
                self.server.emit(ERROR_EVENT, {"event": "?", "code": exc.code,
                                               "reason": exc.reason},
                                 to=sid, namespace=namespace)

    def _log_once(self, eio_sid: str, key: str, msg: str, *args: Any) -> None:
        seen = self._logged.setdefault(eio_sid, set())
        if key not in seen:
            seen.add(key)
            logger.warning(msg, *args)

    # -- closing ---------------------------------------------------------------------------
    def close_for(self, eio_sid: str, reason: str, why: str, *, shut: bool = True,
                  log: bool = True) -> None:
        """Close one client's connection for breaking a limit: counted, logged once (unless
        ``log`` is false: a line about its address says it already)."""
        metrics.engine_closed_connections.labels(reason=reason).inc()
        if log:
            self._log_once(eio_sid, "close", "closed connection (engine.io sid %s): %s (%s)",
                           eio_sid, why, reason)
        session = self.eio.sockets.get(eio_sid)
        if session is not None and not session.closed:
            session.close(wait=False, abort=False, reason=reason)
        if shut:
            self._shut_websocket(eio_sid)

    def queue_overflowed(self, queue: _BoundedSendQueue) -> None:
        """A session's send queue passed its cap: disconnect it, from a greenlet of its own."""
        sid = queue.sid
        if sid is None:
            return
        self.eio.start_background_task(
            self.close_for, sid, SLOW_READER,
            f"the client did not read: more than {self.limits.max_queued_bytes} bytes were "
            "queued for it (PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT)",
        )

    def websocket_opened(self, eio_sid: str, ws: Any) -> None:
        self._websockets[eio_sid] = ws

    def websocket_closed(self, eio_sid: str, ws: Any) -> None:
        if self._websockets.get(eio_sid) is ws:
            del self._websockets[eio_sid]

    def _shut_websocket(self, eio_sid: str) -> None:
        # The writer greenlet may be blocked in sendall() on a socket the client does not
        # read; shutting the TCP connection down wakes it and the reader up.
        ws = self._websockets.get(eio_sid)
        raw = getattr(getattr(ws, "handler", None), "socket", None)
        if raw is not None:
            try:
                raw.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass

    # -- WSGI --------------------------------------------------------------------------------
    def wsgi(self, wsgi_app: _WSGIApp, *, path: str = "/socket.io/") -> _WSGIApp:
        """Wrap the WSGI app: admit handshakes, check long-polling POST bodies."""

        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]
                       ) -> Iterable[bytes]:
            if not str(environ.get("PATH_INFO", "")).startswith(path):
                return wsgi_app(environ, start_response)
            method = environ.get("REQUEST_METHOD")
            query = parse_qs(str(environ.get("QUERY_STRING", "")))
            sid = query.get("sid", [None])[0]
            if method == "GET" and sid is None and "EIO" in query:
                refused = self._admit(environ)
                if refused is not None:
                    return _refuse_handshake(environ, start_response, *refused)
            elif method == "POST" and sid is not None:
                refused_post = self._check_post(environ, sid)
                if refused_post is not None:
                    start_response("400 BAD REQUEST", [("Content-Type", "text/plain")])
                    return [refused_post]
            return wsgi_app(environ, start_response)

        return middleware

    def _admit(self, environ: dict[str, Any]) -> tuple[int, str] | None:
        address = client_address(environ, self.limits.trusted_proxies)
        environ[_ADDRESS_KEY] = address
        refusal = self.admission.refusal(address, time.monotonic())
        if refusal is None:
            return None
        reason, status, text = refusal
        metrics.engine_refused_handshakes.labels(reason=reason).inc()
        if (address, reason) not in self._logged_addresses:
            if len(self._logged_addresses) >= _LOGGED_ADDRESSES_MAX:
                self._logged_addresses.clear()
            self._logged_addresses.add((address, reason))
            logger.warning("refused Engine.IO handshakes from %s: %s (HTTP %d); further ones "
                           "are counted in pushsvc_engine_refused_handshakes, not logged",
                           address, reason, status)
        return status, text

    def _check_post(self, environ: dict[str, Any], sid: str) -> bytes | None:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            reason = "a long-polling POST without a valid Content-Length"
        elif length > self.limits.hard_limit_bytes:
            return None  # Engine.IO refuses it and pushsvc.limits logs it
        else:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            if polling_payload_ok(body):
                return None
            reason = "an undecodable long-polling payload"
        session = self.eio.sockets.get(sid)
        if session is not None:
            self.close_for(sid, "bad_frame", reason, shut=False)
        return b"Bad payload"


def _refuse_handshake(environ: dict[str, Any], start_response: Callable[..., Any],
                      status: int, text: str) -> Iterable[bytes]:
    ws = environ.get("wsgi.websocket")
    if ws is not None:
        # gevent-websocket already answered 101: say it in a close frame (1008, policy
        # violation); its close() sends the message as the whole payload, code included.
        try:
            ws.close(1008, struct.pack("!H", 1008) + text.encode()[:120])
        except OSError:
            pass
        return []
    phrase = {429: "TOO MANY REQUESTS", 503: "SERVICE UNAVAILABLE"}[status]
    start_response(f"{status} {phrase}", [("Content-Type", "text/plain; charset=utf-8"),
                                          ("Retry-After", "1")])
    return [text.encode()]


def install(server: socketio.Server, settings: Settings) -> EngineGuard:
    """Put the limits on ``server`` (the one Flask-SocketIO built); wrap the WSGI app with
    the returned guard's ``wsgi``."""
    if type(server.eio) is not engineio.Server:
        raise RuntimeError(
            f"pushsvc.engine_limits expects an engineio.Server, got {type(server.eio)!r}")
    if server.eio.async_mode != "gevent":
        raise RuntimeError("pushsvc.engine_limits supports async_mode='gevent' only")
    limits = EngineLimits.from_settings(settings)
    guard = EngineGuard(server, limits)
    eio = server.eio
    eio.__class__ = _LimitedEngineIOServer
    eio.pushsvc_guard = guard
    eio._async = dict(eio._async, websocket=_GuardedWebSocketWSGI)
    if server.packet_class is not sio_packet.Packet:
        raise RuntimeError("pushsvc.engine_limits supports the default JSON serializer only")
    server.packet_class = type(
        "PushsvcPacket", (LimitedPacket,),
        {"max_json_depth": limits.max_json_depth, "max_attachments": limits.max_attachments},
    )
    guard.wrap_handlers()
    return guard


def install_socketio_layer(server: socketio.Server, settings: Settings) -> EngineGuard:
    """The Socket.IO-layer bounds only (packet class, attachments, depth) on a server whose
    engine is pushsvc's own (``pushsvc.engineio``), which bounds the Engine.IO side itself."""
    limits = EngineLimits.from_settings(settings)
    guard = EngineGuard(server, limits)
    server.packet_class = type(
        "PushsvcPacket", (LimitedPacket,),
        {"max_json_depth": limits.max_json_depth, "max_attachments": limits.max_attachments},
    )
    guard.wrap_handlers()
    return guard
