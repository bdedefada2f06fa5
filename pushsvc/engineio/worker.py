"""gunicorn worker for this engine: gunicorn's gevent worker, pushsvc's drain, a small handler.

Why a handler of our own rather than gevent-websocket's (the former engine's worker): the
engine takes the WebSocket over from gevent's pywsgi itself, so the handler only has to
(1) put the raw socket in the environ (``pushsvc.socket``), (2) write nothing after a
WebSocket took the connection (``pushsvc.detached``: the engine serves it on a dup of the
socket in a greenlet of its own, and this handler lets go of its copy without reading it),
(3) say ``Connection: close`` when it will close a keep-alive connection — pywsgi closes it
silently after a request that asked for it, and Node's agent then fails its next request
with "socket hang up" —, and (4) log a malformed request without its request line, which
may carry a ``?token=``.

``-k pushsvc.engineio.worker.Worker`` (what ``pushsvc serve`` runs) drains on SIGTERM:
readiness off, clients told and disconnected, then the stock stop; idle keep-alive
connections are closed after the drain.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import weakref
from typing import Any

import gevent
from gevent import pywsgi
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

from pushsvc.engineio.server import DETACHED_KEY, HANDLER_KEY, SOCKET_KEY
from pushsvc.run.worker_logs import LoggingWSGIServer, log_greenlet_error, log_ready
from pushsvc.service import find_service

log = logging.getLogger(__name__)
_READ_BUFFER_BYTES = 1024


class Handler(PyWSGIHandler):
    """gunicorn's pywsgi handler, with the four changes of the module docstring."""

    idle: weakref.WeakSet[Handler] = weakref.WeakSet()
    closing = False
    close_connection: bool
    socket: Any  # None once a WebSocket took the connection over (process_result)

    def __init__(self, sock: Any, address: Any, server: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, address, server, *args, **kwargs)
        # pywsgi's 8 KiB read buffer would be held for the life of every WebSocket (its
        # request's greenlet is the reader); request heads are small, larger reads still work.
        self.rfile = sock.makefile("rb", _READ_BUFFER_BYTES)

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ[SOCKET_KEY] = self.socket
        environ[HANDLER_KEY] = self  # a middleware may copy the environ: mark the handler
        return environ

    def read_requestline(self) -> str:
        if Handler.closing:
            return ""
        Handler.idle.add(self)
        try:
            line: str = super().read_requestline()
            return line
        finally:
            Handler.idle.discard(self)

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        if (self.close_connection or Handler.closing) and not any(
                name.lower() == "connection" for name, _value in headers):
            headers = [*headers, ("Connection", "close")]
            self.close_connection = True
        return super().start_response(status, headers, exc_info)

    def _detached(self) -> bool:
        # No environ yet when the request line itself was refused.
        environ = self.environ or {}
        return bool(getattr(self, "detached", False) or environ.get(DETACHED_KEY))

    def process_result(self) -> None:
        if self._detached():
            # The WebSocket runs on a dup of the socket: pywsgi must neither write to this one
            # nor read from it (its cleanup reads what is pending) before closing it.
            self.close_connection = True
            self.socket = None
            return
        super().process_result()

    def log_request(self) -> None:
        if self._detached() or self.status is None:
            return
        super().log_request()

    def _handle_client_error(self, ex: Exception) -> Any:
        # gevent logs the request line, and the request line may carry ?token=: never it.
        self.log_error("(from %s) invalid request: %s", self.client_address[0]
                       if isinstance(self.client_address, tuple) else self.client_address,
                       type(ex).__name__)
        return ("400", pywsgi._BAD_REQUEST_RESPONSE)

    @classmethod
    def close_idle(cls) -> int:
        cls.closing = True
        handlers = list(cls.idle)
        for handler in handlers:
            with contextlib.suppress(OSError):
                handler.socket.shutdown(socket.SHUT_RDWR)
        return len(handlers)


class Worker(GeventPyWSGIWorker):
    """gunicorn's gevent worker whose SIGTERM drains Socket.IO clients first."""

    wsgi_handler = Handler
    server_class = LoggingWSGIServer
    _pushsvc_draining = False

    def load_wsgi(self) -> None:
        gevent.get_hub().print_exception = log_greenlet_error
        super().load_wsgi()
        log_ready(self)

    def handle_exit(self, sig: int, frame: Any) -> None:
        service = find_service(getattr(self, "wsgi", None))
        if service is None:
            super().handle_exit(sig, frame)
            return
        if self._pushsvc_draining:
            return
        self._pushsvc_draining = True
        service.begin_shutdown()
        gevent.spawn(self._drain_then_stop, service)

    def _drain_then_stop(self, service: Any) -> None:
        try:
            service.drain()
        except Exception:
            log.exception("drain failed; stopping anyway")
        finally:
            closed = Handler.close_idle()
            if closed:
                log.info("closed %d idle keep-alive connection(s)", closed)
            self.alive = False
