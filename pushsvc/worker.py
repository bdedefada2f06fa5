"""gunicorn worker: gevent-websocket's worker plus pushsvc's graceful drain on SIGTERM.

On SIGTERM gunicorn's master closes its copy of the listening socket, sends
SIGTERM to the worker and SIGKILLs it after ``graceful_timeout``. The stock
gevent worker then just stops accepting and waits for open requests — which,
for WebSockets and long-polls, means waiting out the whole timeout. This worker
first marks the app not ready and refuses new Socket.IO connections, tells and
disconnects its clients (``PushService.drain``), and only then lets the stock
shutdown path close the listener and exit.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import weakref
from typing import Any

import gevent
from geventwebsocket.gunicorn.workers import GeventWebSocketWorker
from geventwebsocket.handler import WebSocketHandler
from geventwebsocket.websocket import Header

from pushsvc.service import find_service
from pushsvc.worker_logs import LoggingWSGIServer, log_greenlet_error, log_ready

log = logging.getLogger(__name__)


_READ_BUFFER_BYTES = 1024


def _xor_mask(self: Header, payload: bytes | bytearray) -> bytearray:
    """gevent-websocket's ``Header.mask_payload`` without its per-byte Python loop.

    Every frame a client sends is masked (RFC 6455), and the stock loop unmasks one byte per
    interpreter step: a client sending large frames buys the worker's CPU for its own
    (seconds for a few MB), starving every other client of the pod. XOR as one big integer.
    """
    length = self.length
    if not length:
        return bytearray(payload)
    key = (bytes(self.mask) * (length // 4 + 1))[:length]
    value = int.from_bytes(payload[:length], "big") ^ int.from_bytes(key, "big")
    return bytearray(value.to_bytes(length, "big"))


# Frames are unmasked on read and (never, server-side) masked on write: same operation.
Header.mask_payload = _xor_mask
Header.unmask_payload = _xor_mask


class _IdleAwareHandler(WebSocketHandler):
    """gevent-websocket's handler that knows when it is idle between two requests.

    gunicorn's graceful stop waits for every open connection, and an idle HTTP keep-alive
    connection (a load balancer's, a browser's) never ends by itself: one of them made every
    shutdown last the whole grace period. After the drain these are closed at once, and a
    connection finishing its request takes no further one.
    """

    idle: weakref.WeakSet[_IdleAwareHandler] = weakref.WeakSet()
    closing = False

    def __init__(self, sock: Any, address: Any, server: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, address, server, *args, **kwargs)
        # pywsgi's read buffer is 8 KiB per connection, held for the life of every idle
        # WebSocket; request lines and Socket.IO frames are small, and larger reads still
        # work (they just take more recv calls).
        self.rfile = sock.makefile("rb", _READ_BUFFER_BYTES)

    def read_requestline(self) -> str:
        if _IdleAwareHandler.closing:
            return ""  # end of this keep-alive connection
        _IdleAwareHandler.idle.add(self)
        try:
            line: str = super().read_requestline()
            return line
        finally:
            _IdleAwareHandler.idle.discard(self)

    @classmethod
    def close_idle(cls) -> int:
        cls.closing = True
        handlers = list(cls.idle)
        for handler in handlers:
            with contextlib.suppress(OSError):  # already closed by the peer
                handler.socket.shutdown(socket.SHUT_RDWR)
        return len(handlers)


class PushsvcWorker(GeventWebSocketWorker):
    """``GeventWebSocketWorker`` whose SIGTERM drains Socket.IO clients first."""

    wsgi_handler = _IdleAwareHandler
    server_class = LoggingWSGIServer
    _pushsvc_draining = False

    def load_wsgi(self) -> None:
        gevent.get_hub().print_exception = log_greenlet_error
        super().load_wsgi()
        log_ready(self)

    def handle_exit(self, sig: int, frame: Any) -> None:
        wsgi = getattr(self, "wsgi", None)
        service = find_service(wsgi)
        if service is None:
            super().handle_exit(sig, frame)
            return
        if self._pushsvc_draining:
            return
        self._pushsvc_draining = True
        # Cheap and signal-safe: flips readiness and the connect check at once.
        service.begin_shutdown()
        # Blocking work leaves the signal handler, as gunicorn's gevent worker does for QUIT.
        gevent.spawn(self._drain_then_stop, service)

    def _drain_then_stop(self, service: Any) -> None:
        try:
            service.drain()
        except Exception:  # a failed drain must still let the worker exit
            log.exception("drain failed; stopping anyway")
        finally:
            closed = _IdleAwareHandler.close_idle()
            if closed:
                log.info("closed %d idle keep-alive connection(s)", closed)
            self.alive = False
