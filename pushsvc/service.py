"""Per-app pushsvc state: readiness, bus health, and the drain that runs on SIGTERM.

Readiness is "can this pod serve its clients": false only while shutting down. The bus (the
client manager, a :class:`~pushsvc.bus.contract.BusManager`) never makes a pod unready — an
API-server outage would otherwise take every pod out of the load balancer at once; its health
is reported by :meth:`PushService.bus_health` (metrics, /internal/health).

One ``PushService`` lives in each app, reached through :func:`service_of` (or
:func:`find_service` for any WSGI app). The gunicorn worker
(pushsvc.worker) calls ``begin_shutdown()`` from its SIGTERM handler and then
``drain()`` in a greenlet: every local client is told (``server_shutdown`` and a
reply-event message) and its Engine.IO connection is closed without a Socket.IO
DISCONNECT packet, so JS clients see "transport close" and reconnect — through the
load balancer, to a pod that is still ready. Only this process's clients are
addressed one by one, so nothing about a shutdown crosses the bus.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pushsvc.bus.contract import BusHealth, BusManager

if TYPE_CHECKING:
    from flask import Flask
    from flask_socketio import SocketIO

    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

SHUTDOWN_EVENT = "server_shutdown"
SHUTDOWN_MESSAGE = "server shutting down"
_POLL_S = 0.05
_FLUSH_S = 2.0
#: Key of the PushService in ``app.extensions``; use service_of() / find_service(), not this.
EXTENSION_KEY = "pushsvc"


def service_of(app: Flask) -> PushService:
    """The PushService ``pushsvc.init_app`` attached to ``app`` (KeyError if it did not)."""
    service: PushService = app.extensions[EXTENSION_KEY]
    return service


def find_service(wsgi: object) -> PushService | None:
    """The PushService of a WSGI app if it is a Flask app with pushsvc, else None."""
    extensions = getattr(wsgi, "extensions", None)
    service = extensions.get(EXTENSION_KEY) if isinstance(extensions, dict) else None
    return service if isinstance(service, PushService) else None


class PushService:
    """Readiness and graceful shutdown for one Flask app's Socket.IO server."""

    def __init__(self, *, settings: Settings, socketio: SocketIO) -> None:
        self.settings = settings
        self.socketio = socketio
        self.shutting_down = False
        #: Called once by drain(), before the bus flushes (presence empties its Lease).
        self.on_drain: list[Any] = []

    # -- readiness ----------------------------------------------------------
    def ready(self) -> tuple[bool, str]:
        """(ready, why): can this pod serve its clients — false while shutting down or before
        the Socket.IO server exists. The bus's state is deliberately not part of it."""
        if self.shutting_down:
            return False, "shutting down"
        if self.socketio.server is None:
            return False, "starting"
        return True, "ok"

    @property
    def manager(self) -> Any:
        """python-socketio's client manager (rooms, sessions)."""
        server = self.socketio.server
        return server.manager if server is not None else None

    @property
    def bus(self) -> BusManager | None:
        """The same manager seen through the bus contract (None if it does not implement it)."""
        manager = self.manager
        return manager if isinstance(manager, BusManager) else None

    def bus_health(self) -> BusHealth | None:
        """The bus manager's detailed health (None for a manager outside the contract)."""
        bus = self.bus
        return bus.health() if bus is not None else None

    def local_sids(self, namespace: str = "/") -> list[str]:
        """Socket.IO session ids of the clients connected to this process."""
        server = self.socketio.server
        if server is None:
            return []
        return [sid for sid, _eio_sid in server.manager.get_participants(namespace, None)]

    # -- shutdown -----------------------------------------------------------
    @property
    def drain_timeout(self) -> float:
        """Seconds the drain may take, leaving gunicorn's exit path time within the grace."""
        grace = self.settings.shutdown_grace_seconds
        return max(0.5, min(grace - 3.0, grace * 0.75)) if grace > 2 else grace * 0.5

    def begin_shutdown(self) -> None:
        """Readiness false and new Socket.IO connections refused, from now on."""
        if not self.shutting_down:
            self.shutting_down = True
            logger.info(
                "shutdown started: readiness false, refusing new connections, draining %d "
                "client(s) within %.1f s",
                len(self.local_sids()),
                self.drain_timeout,
            )

    def drain(self, timeout: float | None = None) -> int:
        """Tell every local client, close its connection, wait (bounded) until all are gone.

        Returns the number of clients that were told.
        """
        self.begin_shutdown()
        budget = self.drain_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        delay = min(self.settings.shutdown_delay_seconds, max(0.0, budget - 0.5))
        if delay > 0:
            # Readiness is already false: give the load balancer time to notice first.
            self.socketio.sleep(delay)
        sids = self.local_sids()
        reply = self.settings.reply_event
        for sid in sids:
            # Straight to the socket (ignore_queue): with connection state recovery on, a
            # reply would otherwise become an Event that every pod reads and keeps, and the
            # client would get "shutting down" replayed on the pod it recovers on.
            self.socketio.emit(reply, {"data": SHUTDOWN_MESSAGE}, to=sid, ignore_queue=True)
            self.socketio.emit(
                SHUTDOWN_EVENT, {"reason": SHUTDOWN_MESSAGE, "reconnect": True}, to=sid,
                ignore_queue=True,
            )
        eio = self.socketio.server.eio if self.socketio.server is not None else None
        left = 0
        if eio is not None:
            # Engine.IO close (not a Socket.IO disconnect): clients reconnect elsewhere.
            # Each close waits for its socket's queue to drain (a long-poll client must come
            # back for its last packets), so run them side by side.
            for eio_sid in list(eio.sockets):
                self.socketio.start_background_task(eio.disconnect, eio_sid)
            # Socket.IO sessions end at once; then give queued packets a moment to flush.
            # A session whose client vanished never flushes: do not wait for it to the end.
            while self.local_sids() and time.monotonic() < deadline:
                self.socketio.sleep(_POLL_S)
            flush_deadline = min(deadline, time.monotonic() + _FLUSH_S)
            while eio.sockets and time.monotonic() < flush_deadline:
                self.socketio.sleep(_POLL_S)
            left = len(eio.sockets)
        for hook in self.on_drain:
            try:
                hook()
            except Exception:  # a failing hook never stops the drain
                logger.exception("shutdown hook %r failed", hook)
        # The bus publishes in the background: send what is queued for other pods first.
        bus = self.bus
        budget_left = max(0.1, min(_FLUSH_S, deadline - time.monotonic()))
        dropped = bus.shutdown(timeout=budget_left) if bus is not None else 0
        logger.info("drain finished: %d client(s) told, %d connection(s) left, %d bus "
                    "message(s) for other pods dropped", len(sids), left, dropped)
        return len(sids)
