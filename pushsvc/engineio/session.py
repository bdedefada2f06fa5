"""One Engine.IO session: its queue for long-polling, its WebSocket, its heartbeat.

Why this shape: a session is either *polling* (packets wait in a queue for the next GET),
*upgrading* (still polling, a probe WebSocket open beside it) or *websocket* (packets are
written to the socket by the greenlet that sends them; see ``websocket.py``). The queue
counts its bytes: past ``max_queued_bytes`` the client is a slow reader and is closed, its
packets freed. The heartbeat is a libev timer, not a greenlet per session: the server sends
PING every ``pingInterval`` and closes the session unless PONG comes within ``pingTimeout``.

Closing follows the protocol (engine.io-protocol README): a pending GET is answered ``6``
when the client closes with ``1``, ``1`` when a second GET comes (then 400 to that one), and
the close packet ``1`` after what was still queued when the server closes it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event

from pushsvc.engineio import packets
from pushsvc.engineio.packets import CLOSE, MESSAGE, NOOP, PING, PONG, UPGRADE, BadPacket

if TYPE_CHECKING:
    from pushsvc.engineio.server import Server
    from pushsvc.engineio.websocket import WebSocket

log = logging.getLogger(__name__)


class Reason:
    """The reasons python-engineio gives its ``disconnect`` handler (same strings)."""

    SERVER_DISCONNECT = "server disconnect"
    CLIENT_DISCONNECT = "client disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"


class Session:
    """An Engine.IO session (what python-engineio calls a socket)."""

    # Slots, and a plain list for the polling queue (a deque allocates a 64-slot block at
    # once): an idle WebSocket's session is a few hundred bytes (issue 21: RSS per connection).
    __slots__ = ("server", "sid", "address", "environ", "transport", "data", "queue",
                 "queued_bytes", "ws", "probe", "probed", "closing", "closed", "_poll",
                 "_poll_answer", "_pong_due", "_timer", "__weakref__")

    def __init__(self, server: Server, sid: str, address: str, environ: dict[str, Any],
                 transport: str) -> None:
        self.server = server
        self.sid = sid
        self.address = address
        self.environ = environ
        self.transport = transport  # "polling" or "websocket" (after an upgrade too)
        self.data: dict[str, Any] = {}  # get_session / save_session
        self.queue: list[Any] = []
        self.queued_bytes = 0
        self.ws: WebSocket | None = None  # the session's WebSocket, once it speaks it
        self.probe: WebSocket | None = None  # a pending upgrade
        self.probed = False  # the pending upgrade's probe came: polling only answers NOOP
        self.closing = False  # the server closes it: queued packets still go out
        self.closed = False  # gone: every request for this sid gets 400
        self._poll: gevent.event.Event | None = None  # set while a GET waits
        self._poll_answer: str | None = None
        self._pong_due = False
        self._timer: Any = None

    @property
    def upgraded(self) -> bool:
        """Whether the session speaks WebSocket (python-engineio's name, read by the Admin UI)."""
        return self.ws is not None

    # -- sending -----------------------------------------------------------------------------
    def send(self, pkt: Any) -> None:
        """Queue one packet (polling) or write it now (WebSocket)."""
        if self.closing or self.closed:
            return
        if self.ws is not None:
            self.ws.write(packets.ws_frame(pkt, self.server.json))
            return
        self.queue.append(pkt)
        self.queued_bytes += packets.packet_size(pkt)
        if self.queued_bytes > self.server.limits.max_queued_bytes:
            self.server.slow_reader(self)
            return
        if self._poll is not None:
            self._poll.set()

    def take_queue(self) -> list[Any]:
        items = list(self.queue)
        self.queue.clear()
        self.queued_bytes = 0
        return items

    # -- long-polling ------------------------------------------------------------------------
    def poll(self) -> str | None:
        """Answer a GET: the queued packets, waiting for one; ``None`` means HTTP 400."""
        if self.closed or self.transport != "polling":
            return None
        if self._poll is not None:  # a second GET while one waits: a protocol error
            self._poll_answer = str(CLOSE)
            self._poll.set()
            self.close(Reason.TRANSPORT_ERROR, flush=False, why="a second concurrent GET poll")
            return None
        if self.probed:  # upgrading: queued packets wait for the WebSocket, a NOOP ends this GET
            return str(NOOP)
        event = self._poll = gevent.event.Event()
        try:
            while not self.queue and self._poll_answer is None and not self.closed:
                event.wait()
                event.clear()
        finally:
            self._poll = None
        if self._poll_answer is not None:
            answer, self._poll_answer = self._poll_answer, None
            if self.closing:
                self.finish()
            return answer
        if not self.queue:
            return None  # closed without anything to say
        json = self.server.json
        body = packets.SEPARATOR.join(packets.encoded_text(p, json) for p in self.take_queue())
        if self.closing:
            self.finish()
        return body

    def release_poll(self, answer: str) -> None:
        """Answer a waiting GET with ``answer`` (a NOOP on upgrade, ``6`` on a client close)."""
        if self._poll is not None:
            self._poll_answer = answer
            self._poll.set()

    def receive_payload(self, body: str) -> None:
        for kind, data in packets.decode_payload(body, self.server.limits.max_packets_per_payload):
            if self.closed:
                return
            self.receive(kind, data)

    # -- receiving ---------------------------------------------------------------------------
    def receive(self, kind: int, data: str | bytes) -> None:
        """One packet from the client, on whichever transport it came."""
        if kind == MESSAGE:
            self.server.dispatch_message(self, data)
        elif kind == PONG:
            self.on_pong()
        elif kind == CLOSE:
            if self._poll is None and self.ws is None and self.transport == "polling":
                # The client's GET may still be on its way (it closes while polling): answer
                # it NOOP, then the session is gone; a client that never polls is dropped later.
                self._poll_answer = str(NOOP)
                self.close(Reason.CLIENT_DISCONNECT)
                return
            self.release_poll(str(NOOP))
            self.close(Reason.CLIENT_DISCONNECT, flush=False)
        elif kind in (NOOP, PING):
            return
        elif kind == UPGRADE:
            raise BadPacket("an upgrade packet outside an upgrade")
        else:
            raise BadPacket("an open packet from the client")

    # -- heartbeat ---------------------------------------------------------------------------
    def start_heartbeat(self) -> None:
        self._arm(self.server.ping_interval, self._send_ping)

    def _arm(self, seconds: float, callback: Any) -> None:
        if self._timer is not None:
            self._timer.close()
        self._timer = gevent.get_hub().loop.timer(seconds)
        self._timer.start(callback)

    def _send_ping(self) -> None:  # runs in the hub: must not block
        if self.closing or self.closed:
            return
        self._pong_due = True
        self.send(packets.Packet(PING))
        self._arm(self.server.ping_timeout, self._ping_timed_out)

    def _ping_timed_out(self) -> None:  # runs in the hub
        if self._pong_due and not self.closed:
            gevent.spawn(self.close, Reason.PING_TIMEOUT, flush=False)

    def on_pong(self) -> None:
        if self._pong_due:
            self._pong_due = False
            self._arm(self.server.ping_interval, self._send_ping)

    # -- closing -----------------------------------------------------------------------------
    def close(self, reason: str, *, flush: bool = True, why: str | None = None) -> None:
        """End the session: tell python-socketio once, free its bounds, close its sockets."""
        if self.closing or self.closed:
            return
        if why:
            self.server.closed_for(self, reason, why)
        if flush and self.ws is None and not self.closed:
            self.closing = True
            self.queue.append(packets.Packet(CLOSE))
            self.server.forget(self, reason)
            if self._poll is not None:
                self._poll.set()
            # A client that never comes back for it: give up after one ping timeout.
            self._arm(self.server.ping_timeout + self.server.ping_interval, self.finish)
            return
        self.closing = True
        self.server.forget(self, reason)
        self.finish()

    def finish(self) -> None:
        """Drop everything the session holds (after the close packet went out, if any)."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        self.queue.clear()
        self.queued_bytes = 0
        if self._poll is not None:
            self._poll.set()
        for ws in (self.ws, self.probe):
            if ws is not None:
                ws.close()
        self.server.finished(self)
