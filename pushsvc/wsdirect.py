"""WebSocket writes from the emitting greenlet: no writer greenlet per idle WebSocket.

python-engineio gives every WebSocket a send queue and a writer greenlet parked on it for
the life of the connection, and a greenlet sleeping between two pings: with the pywsgi
handler that reads, three greenlets and a queue per idle client. Here, once a session speaks
WebSocket, its queue is replaced by a ``DirectWriter``:

- A packet is encoded into one WebSocket frame (once per packet: a room emit shares one
  Engine.IO packet between its recipients, so they share the frame bytes too) and written
  at once, in the greenlet that sends it, with a send that cannot block.
- Only when that send would block (the client's TCP window and the kernel's send buffer are
  full) does the socket become *backpressured*: the unsent rest and every later frame wait
  in a list, and one writer greenlet writes them, all that are waiting in one ``sendall``,
  until the list is empty; then it exits and the socket is direct again. The slow-reader cap
  (``PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT``) counts those bytes: past it the waiting frames
  are dropped and the client is disconnected with reason ``slow_reader``
  (``pushsvc.engine_limits.EngineGuard.queue_overflowed``), as for a queued session.
- Every write on the socket goes through the same writer, gevent-websocket's own too (its
  ``raw_write``: PONG replies to a client's ping, close frames): a frame is never written
  in the middle of another, and nothing overtakes what is waiting. In a single-threaded
  gevent worker the non-blocking send and the "is anything waiting" check run without a
  switch between them, so that state is the per-socket lock.
- The reader yields to the other greenlets after each message it hands on: a client that
  sends without pause no longer holds the whole worker until it stops.
- The ping of a WebSocket session is a libev timer, not a greenlet sleeping out the ping
  interval.

Long-polling sessions keep python-engineio's queue, and a session upgraded from polling
keeps it until the upgrade is done; whatever it still holds then is written first.

What is replaced in the pinned python-engineio 4.15 (and gevent-websocket 0.10);
``tests/unit/test_engine_limits_match_the_pinned_libraries.py`` fails when one changes:

- ``engineio.socket.Socket._websocket_handler`` is replaced by ``websocket_handler`` (same
  upgrade probe and reader loop, no writer greenlet); ``DirectWebSocketWSGI`` (installed in
  the server's ``_async["websocket"]``) calls it instead of the bound method it is given.
- The queue ``engineio.socket.Socket.send`` puts into and ``engineio.socket.Socket.close``
  puts ``CLOSE``/``None`` into (and joins) is a ``DirectWriter`` once the session is a
  WebSocket; ``engineio.socket.Socket.poll`` is then never reached
  (``engineio.socket.Socket.handle_get_request`` answers NOOP to an upgraded session).
- ``engineio.socket.Socket.schedule_ping`` and ``engineio.socket.Socket._send_ping`` are
  replaced on each WebSocket session by a timer doing the same.
- ``geventwebsocket.websocket.WebSocket.send_frame`` writes through ``raw_write`` (set to the
  writer's); the frames built here are those of ``geventwebsocket.websocket.Header.encode_header``.
"""

from __future__ import annotations

import logging
import socket as _socket
import time
from typing import Any

import engineio
import gevent
import gevent.queue
from engineio import packet as eio_packet
from geventwebsocket.websocket import Header, WebSocket

from pushsvc import metrics
from pushsvc.engine_limits import EngineGuard, _GuardedWebSocketWSGI

logger = logging.getLogger(__name__)

_FRAME = "_pushsvc_ws_frame"
_TEXT = WebSocket.OPCODE_TEXT
_BINARY = WebSocket.OPCODE_BINARY


def encode_frame(pkt: eio_packet.Packet) -> bytes:
    """The whole WebSocket frame of an Engine.IO packet, built once per packet object."""
    frame: bytes | None = pkt.__dict__.get(_FRAME)
    if frame is None:
        encoded = pkt.encode()
        if isinstance(encoded, str):
            payload, opcode = encoded.encode("utf-8"), _TEXT
        else:
            payload, opcode = bytes(encoded), _BINARY
        frame = bytes(Header.encode_header(True, opcode, b"", len(payload), 0)) + payload
        pkt.__dict__[_FRAME] = frame
    return frame


def _nonblocking_send(sock: Any) -> Any:
    """``send`` that returns at once (raising BlockingIOError when nothing fits).

    A gevent socket wraps a real socket it keeps in non-blocking mode (``_sock``); calling
    that one skips gevent's Python wrapper on the path of every delivery. Otherwise
    gevent's own send with a zero timeout.
    """
    real = getattr(sock, "_sock", None)
    if real is not None and real.gettimeout() == 0.0:
        return real.send
    return lambda data: sock.send(data, _socket.MSG_DONTWAIT, 0.0)


class DirectWriter:
    """A WebSocket session's "queue": writes at once, queues only while backpressured.

    It keeps the attributes ``pushsvc.engine_limits`` reads on a session's queue (``sid``,
    ``cap``, ``queued_bytes``, ``overflowed``) and the methods python-engineio calls on it.
    """

    __slots__ = ("sid", "cap", "queued_bytes", "overflowed", "_guard", "_ws", "_sock",
                 "_send_now", "_pending", "_inflight", "_writer", "_dead", "_ended")

    def __init__(self, *, sid: str, ws: WebSocket, guard: EngineGuard) -> None:
        self.sid = sid
        self.cap = guard.limits.max_queued_bytes
        self.queued_bytes = 0  # waiting + being written by the writer greenlet
        self.overflowed = False
        self._guard = guard
        self._ws = ws
        self._sock: Any = ws.handler.socket
        self._send_now = _nonblocking_send(self._sock)
        self._pending: list[bytes | bytearray] | None = None  # None: not backpressured
        self._inflight = 0
        self._writer: gevent.Greenlet | None = None
        self._dead = False
        self._ended = False
        ws.raw_write = self.write

    # -- the queue python-engineio sees ---------------------------------------------------
    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            self._end()
        elif not self._ended and not self._dead and (
                not self.overflowed or item.packet_type == eio_packet.CLOSE):
            self.write(encode_frame(item))

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        return None  # never polled once upgraded; None would end a poll

    def task_done(self) -> None:
        pass

    def join(self) -> None:
        pass  # like the queue's join, nothing waits for the bytes to reach the client

    def qsize(self) -> int:
        return len(self._pending or ())

    @property
    def backpressured(self) -> bool:
        return self._pending is not None

    # -- bytes ---------------------------------------------------------------------------
    def write(self, data: bytes | bytearray) -> None:
        """Write bytes now if the socket takes them, else after what is waiting."""
        if self._dead:
            return
        pending = self._pending
        if pending is not None:
            if self.overflowed:
                return
            pending.append(data)
            self.queued_bytes += len(data)
            if self.queued_bytes > self.cap:
                self._overflow()
            return
        try:
            sent = self._send_now(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._die()
            return
        if sent < len(data):
            rest = bytes(memoryview(data)[sent:])
            self._pending = [rest]
            self.queued_bytes = len(rest)
            metrics.ws_backpressured.inc()
            self._writer = gevent.spawn(self._flush)

    def _flush(self) -> None:
        """The writer greenlet of a backpressured socket: lives until nothing waits."""
        metrics.ws_writer_greenlets.inc()
        try:
            while True:
                batch = self._pending
                if not batch or self._dead:
                    self._pending = None
                    return
                self._pending = []
                data = batch[0] if len(batch) == 1 else b"".join(batch)
                del batch
                self._inflight = len(data)
                try:
                    self._sock.sendall(data)
                except OSError:
                    self._die()
                    return
                self.queued_bytes -= self._inflight
                self._inflight = 0
        finally:
            self._writer = None
            metrics.ws_writer_greenlets.dec()

    def _overflow(self) -> None:
        self.overflowed = True
        self._pending = []  # dropped; the bytes already in sendall stay counted
        self.queued_bytes = self._inflight
        self._guard.queue_overflowed(self)  # type: ignore[arg-type]

    def _die(self) -> None:
        # The peer is gone (reset, broken pipe): drop what waits and wake the reader, which
        # then ends the session as python-engineio's would after its writer failed.
        self._dead = True
        self._pending = None
        self.queued_bytes = 0
        try:
            self._sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass

    def _end(self) -> None:
        # python-engineio's writer closes the WebSocket after the last packet: the close
        # frame goes after what is waiting (ws.close() writes through raw_write).
        if self._ended:
            return
        self._ended = True
        if not self._ws.closed:
            try:
                self._ws.close()
            except OSError:
                pass

    def wait_written(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.join()

    def take_over(self, session: Any) -> None:
        """Become ``session``'s queue; what the old queue still holds is written first."""
        old = session.queue
        while True:
            try:
                item = old.get(False)
            except gevent.queue.Empty:
                break
            old.task_done()
            if item is None:
                self._end()
                break
            self.put(item)
        session.queue = self
        session.schedule_ping = _PingTimer(session)


class _PingTimer:
    """``Socket.schedule_ping`` + ``Socket._send_ping`` as a libev timer instead of a greenlet.

    python-engineio's greenlet sleeps out the whole ping interval (a Greenlet object and its
    stack per client); a timer is ~150 bytes, and the greenlet that sends the PING lives
    only while it sends.
    """

    __slots__ = ("_session", "_timer")

    def __init__(self, session: Any) -> None:
        self._session = session
        self._timer: Any = None

    def __call__(self) -> None:
        session = self._session
        if session.last_ping:
            session.last_ping = None
            # One ping at a time: the next is scheduled only after this one's PONG.
            self._timer = gevent.get_hub().loop.timer(session.server.ping_interval)
            self._timer.start(gevent.spawn, self._ping)

    def _ping(self) -> None:
        self._timer = None
        session = self._session
        if not session.closing and not session.closed:
            session.last_ping = time.time()
            session.send(eio_packet.Packet(eio_packet.PING))


def websocket_handler(session: Any, ws: Any) -> list[Any]:
    """``engineio.socket.Socket._websocket_handler`` without its writer greenlet."""
    server = session.server
    raw: WebSocket = ws._sock
    writer = DirectWriter(sid=session.sid, ws=raw, guard=server.pushsvc_guard)

    def websocket_wait() -> Any:
        data = ws.wait()
        if data and len(data) > server.max_http_buffer_size:
            raise ValueError("packet is too large")
        return data

    if session.connected:
        # an upgrade from polling: the polling queue stays until the client confirms it
        session.upgrading = True
        pkt = websocket_wait()
        decoded = eio_packet.Packet(encoded_packet=pkt)
        if decoded.packet_type != eio_packet.PING or decoded.data != "probe":
            server.logger.info("%s: Failed websocket upgrade, no PING packet", session.sid)
            session.upgrading = False
            return []
        ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
        session.queue.put(eio_packet.Packet(eio_packet.NOOP))  # end the pending poll
        pkt = websocket_wait()
        decoded = eio_packet.Packet(encoded_packet=pkt)
        if decoded.packet_type != eio_packet.UPGRADE:
            session.upgraded = False
            server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet, "
                               "received %s instead.", session.sid, pkt)
            session.upgrading = False
            return []
        session.upgraded = True
        session.upgrading = False
    else:
        session.connected = True
        session.upgraded = True
    writer.take_over(session)
    server.logger.info("%s: Upgrade to websocket successful", session.sid)

    while True:
        try:
            p = websocket_wait()
        except Exception as exc:  # python-engineio ends the connection on any error here
            if not session.closed:
                server.logger.info('%s: Unexpected error "%s", closing connection',
                                   session.sid, exc)
            break
        if p is None:
            break  # closed by the client
        pkt = eio_packet.Packet(encoded_packet=p)
        try:
            session.receive(pkt)
        except engineio.exceptions.UnknownPacketError:
            pass
        except engineio.exceptions.SocketIsClosedError:
            server.logger.info("Receive error -- socket is closed")
            break
        except Exception:  # as python-engineio: log it and end the connection properly
            server.logger.exception("Unknown receive error")
            break
        # A read that finds data waiting never yields: without this a client sending
        # without pause would hold the worker (every other client, /metrics, health) until
        # it stopped, and the writer of its own backpressured socket would never run.
        gevent.sleep(0)

    writer.put(None)
    writer.wait_written()
    session.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
    return []


class DirectWebSocketWSGI(_GuardedWebSocketWSGI):
    """The guarded gevent-websocket wrapper, running ``websocket_handler`` for the session."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        session = handler.__self__
        self.app = lambda ws: websocket_handler(session, ws)


def install(eio: engineio.Server) -> None:
    """Serve ``eio``'s WebSocket sessions with direct writes (after ``engine_limits.install``)."""
    if eio._async.get("websocket") is not _GuardedWebSocketWSGI:
        raise RuntimeError("pushsvc.wsdirect needs pushsvc.engine_limits installed first")
    eio._async = dict(eio._async, websocket=DirectWebSocketWSGI)
    on_connect = eio.handlers["connect"]

    def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
        # python-engineio schedules the first ping right after this handler: a WebSocket
        # session (not a polling one) gets the timer before that.
        if "wsgi.websocket" in environ:
            session = eio.sockets.get(eio_sid)
            if session is not None:
                session.schedule_ping = _PingTimer(session)
        return on_connect(eio_sid, environ)

    eio.handlers["connect"] = connect
