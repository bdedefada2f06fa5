"""The Engine.IO v4 server: the surface python-socketio uses, and the request handling.

Why: python-socketio's ``socketio.Server`` needs an engine with ``on``, ``send``,
``send_packet``, ``handle_request``, ``transport``, ``get_session``/``save_session``,
``start_background_task``, ``sleep``, ``create_event``/``create_queue``, ``shutdown``,
``disconnect``, ``generate_id`` and ``async_mode``; pushsvc itself reads ``sockets`` (the
drain, recovery). This class is that surface over ``Session`` and ``WebSocket``, gevent only.
Requests follow the engine.io-protocol README: 400 for a missing ``EIO=4``, an unknown
transport, a bad sid or a method other than GET/POST; ``ok`` to a POST; binary as ``b`` +
base64 over polling. Handshakes are admitted (``bounds.Admission``) before a session exists.
"""

from __future__ import annotations

import base64
import contextlib
import json as _json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

import gevent
import gevent.event
import gevent.queue

from pushsvc import metrics
from pushsvc.engineio import packets
from pushsvc.engineio.bounds import ADDRESS_KEY, Admission, Limits, client_address
from pushsvc.engineio.packets import OPEN, BadPacket
from pushsvc.engineio.session import Reason, Session
from pushsvc.engineio.upgrade import run_websocket

log = logging.getLogger(__name__)

SOCKET_KEY = "pushsvc.socket"  # set by pushsvc.engineio.worker's handler
DETACHED_KEY = "pushsvc.detached"  # the WebSocket took the connection over
HANDLER_KEY = "pushsvc.handler"  # the worker's handler: told when a WebSocket takes over
_TEXT = [("Content-Type", "text/plain; charset=UTF-8"), ("Cache-Control", "no-store")]
#: A fan-out (python-socketio's room emit: one ``send_packet`` per recipient) never waits, so
#: one to thousands of clients, or a backlog of bus messages to everyone, would hold the gevent
#: loop for as long as it takes: no heartbeat to gunicorn (WORKER TIMEOUT, SIGKILL, every
#: client dropped), no /healthz. Every FANOUT_CHECK_EVERY sends within one run of the loop the
#: engine looks how long the loop has waited and past FANOUT_SLICE_SECONDS yields to it once.
FANOUT_CHECK_EVERY = 32
FANOUT_SLICE_SECONDS = 0.01
StartResponse = Callable[..., Any]


class _NoBody:
    """The ``wsgi.input`` of a kept handshake environ: an empty body, shared by all."""

    __slots__ = ()

    def read(self, *_args: Any) -> bytes:
        return b""

    readline = read

    def readlines(self, *_args: Any) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


_NO_BODY = _NoBody()


class Server:
    """A drop-in for ``engineio.Server`` as python-socketio 5.18 uses it (gevent only)."""

    reason = Reason
    async_mode = "gevent"
    #: python-socketio's Admin UI counts traffic (packetsIn/Out, bytesIn/Out) through its
    #: ``event_buffer.push``, which ``pushsvc.admin`` sets here; ``None``: nothing counted.
    traffic: Callable[..., Any] | None = None

    def __init__(self, *, ping_interval: float = 25.0, ping_timeout: float = 20.0,
                 max_http_buffer_size: int = 1_000_000, cors_allowed_origins: Any = None,
                 json: Any = None, logger: Any = None, engine_limits: Limits | None = None,
                 **ignored: Any) -> None:
        if isinstance(ping_interval, tuple | list):  # python-engineio's (interval, grace)
            ping_interval = ping_interval[0]
        self.ping_interval = float(ping_interval)
        self.ping_timeout = float(ping_timeout)
        limits = engine_limits or Limits()
        if limits.max_payload != max_http_buffer_size:
            limits = Limits(**{**limits.__dict__, "max_payload": int(max_http_buffer_size)})
        self.limits = limits
        self.cors_allowed_origins = cors_allowed_origins
        self.json = json or _json
        self.logger = logger if isinstance(logger, logging.Logger) else log
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.sockets: dict[str, Session] = {}
        self.admission = Admission(limits)
        self._logged: set[tuple[str, str]] = set()
        self.pacer = Pacer()

    # -- the surface python-socketio uses --------------------------------------------------
    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers[event] = fn
            return fn
        return register(handler) if handler is not None else register

    def send(self, sid: str, data: Any) -> None:
        self.send_packet(sid, data)

    def send_packet(self, sid: str, pkt: Any) -> None:
        session = self.sockets.get(sid)
        if session is not None:
            session.send(pkt)
            if self.traffic is not None:
                self.traffic("packetsOut")
                self.traffic("bytesOut", packets.packet_size(pkt))
        self.pacer.sent()

    def get_session(self, sid: str) -> dict[str, Any]:
        session = self.sockets.get(sid)
        if session is None:
            raise KeyError("Session not found")
        return session.data

    def save_session(self, sid: str, data: dict[str, Any]) -> None:
        self.get_session(sid)
        self.sockets[sid].data = data

    @contextlib.contextmanager
    def session(self, sid: str) -> Iterator[dict[str, Any]]:
        data = self.get_session(sid)
        yield data
        self.save_session(sid, data)

    def transport(self, sid: str) -> str:
        return self.sockets[sid].transport

    def disconnect(self, sid: str | None = None) -> None:
        for session in [self.sockets[sid]] if sid in self.sockets else (
                list(self.sockets.values()) if sid is None else []):
            session.close(Reason.SERVER_DISCONNECT)

    def shutdown(self) -> None:
        for session in list(self.sockets.values()):
            session.close(Reason.SERVER_DISCONNECT, flush=False)

    def generate_id(self) -> str:
        return base64.urlsafe_b64encode(os.urandom(15)).decode("ascii")

    def start_background_task(self, target: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> gevent.Greenlet:
        return gevent.spawn(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        gevent.sleep(seconds)

    def create_event(self, *args: Any, **kwargs: Any) -> gevent.event.Event:
        return gevent.event.Event(*args, **kwargs)

    def create_queue(self, *args: Any, **kwargs: Any) -> gevent.queue.JoinableQueue:
        return gevent.queue.JoinableQueue(*args, **kwargs)

    # python-socketio's Admin UI (socketio.admin) reads these two of python-engineio's (its
    # byte counts come through ``traffic``):
    def _get_socket(self, sid: str) -> Session:
        session = self.sockets.get(sid)
        if session is None:
            raise KeyError("Session not found")
        return session

    def _ok(self, *args: Any, **kwargs: Any) -> None:  # wrapped by the Admin UI, never called
        return None

    # -- session events ----------------------------------------------------------------------
    def dispatch_message(self, session: Session, data: str | bytes) -> None:
        handler = self.handlers.get("message")
        if handler is None:
            return
        if self.traffic is not None:
            self.traffic("packetsIn")
            self.traffic("bytesIn", len(data))
        try:
            handler(session.sid, data)
        except Exception as exc:  # an invalid packet for the layer above: close, as Node does
            session.close(Reason.TRANSPORT_ERROR, flush=False,
                          why=f"invalid packet ({type(exc).__name__})")

    def slow_reader(self, session: Session) -> None:
        gevent.spawn(session.close, "slow_reader", flush=False,
                     why=f"the client did not read: more than {self.limits.max_queued_bytes} "
                         "bytes were queued for it (PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT)")

    def close_for(self, sid: str, reason: str, why: str, *, log: bool = True) -> None:
        """Close a session for breaking a limit of the layer above (pushsvc.sio.connect_guard):
        counted in pushsvc_engine_closed_connections_total, logged once unless ``log`` is
        false (a line about its address says it already); what is queued goes out first."""
        session = self.sockets.get(sid)
        if session is None or session.closing or session.closed:
            return
        if log:
            session.close(reason, why=why)
        else:
            metrics.engine_closed_connections.labels(reason=reason).inc()
            session.close(reason)

    def closed_for(self, session: Session, reason: str, why: str) -> None:
        metrics.engine_closed_connections.labels(reason=reason.replace(" ", "_")).inc()
        self._log_once(session.sid, why, "closed connection (engine.io sid %s): %s (%s)",
                       session.sid, why, reason)

    def forget(self, session: Session, reason: str) -> None:
        """The session is over for python-socketio (its queue may still flush)."""
        self.admission.remove(session.address)
        handler = self.handlers.get("disconnect")
        if handler is not None:
            try:
                handler(session.sid, reason)
            except Exception:
                log.exception("the disconnect handler of engine.io sid %s failed", session.sid)

    def finished(self, session: Session) -> None:
        if self.sockets.get(session.sid) is session:
            del self.sockets[session.sid]

    def _log_once(self, who: str, key: str, msg: str, *args: Any) -> None:
        """Log once per client (an address or a sid) and kind; the set is bounded."""
        if (who, key) in self._logged:
            return
        if len(self._logged) > 10000:
            self._logged.clear()
        self._logged.add((who, key))
        log.warning(msg, *args)

    # -- requests ----------------------------------------------------------------------------
    def handle_request(self, environ: dict[str, Any], start_response: StartResponse
                       ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        cors = self._cors(environ)
        if cors is None:
            return _answer(start_response, "400 Bad Request", b"Not an accepted origin.")
        if method == "OPTIONS":
            return _answer(start_response, "200 OK", b"", [
                *cors, ("Access-Control-Allow-Methods", "OPTIONS, GET, POST"),
                ("Access-Control-Allow-Headers", "content-type")])
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        sid = query.get("sid", [None])[0]
        if query.get("EIO", [None])[0] != "4":
            return _answer(start_response, "400 Bad Request", b"unsupported protocol version", cors)
        transport = query.get("transport", [None])[0]
        if transport == "websocket":
            return run_websocket(self, environ, start_response, sid)
        if transport != "polling":
            return _answer(start_response, "400 Bad Request", b"bad transport", cors)
        if sid is None:
            if method != "GET":
                return _answer(start_response, "400 Bad Request", b"bad handshake method", cors)
            return self._polling_handshake(environ, start_response, cors)
        session = self.sockets.get(sid)
        if session is None or session.closed or session.transport != "polling":
            return _answer(start_response, "400 Bad Request", b"unknown session", cors)
        if method == "GET":
            body = session.poll()
            if body is None:
                return _answer(start_response, "400 Bad Request", b"bad poll", cors)
            return _answer(start_response, "200 OK", body.encode("utf-8"), cors)
        if method == "POST":
            return self._post(session, environ, start_response, cors)
        return _answer(start_response, "400 Bad Request", b"bad method", cors)

    def _post(self, session: Session, environ: dict[str, Any], start_response: StartResponse,
              cors: list[tuple[str, str]]) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.limits.max_payload:
            session.close("too_large", flush=False,
                          why=f"a POST exceeded the hard limit of {self.limits.max_payload} "
                              "bytes (4 x PUSHSVC_MAX_MESSAGE_BYTES)")
            return _answer(start_response, "413 Payload Too Large", b"payload too large", cors)
        try:
            body = environ["wsgi.input"].read(length).decode("utf-8")
            session.receive_payload(body)
        except (BadPacket, UnicodeDecodeError) as exc:
            session.close("bad_frame", flush=False, why=f"an undecodable long-polling payload "
                                                        f"({type(exc).__name__})")
            return _answer(start_response, "400 Bad Request", b"bad payload", cors)
        return _answer(start_response, "200 OK", b"ok", cors)

    def admit(self, environ: dict[str, Any]) -> tuple[str, tuple[int, str] | None]:
        """The client's address, and ``(HTTP status, text)`` if its handshake is refused."""
        address = client_address(environ, self.limits.trusted_proxies)
        environ[ADDRESS_KEY] = address
        refused = self.admission.refusal(address, time.monotonic())
        if refused is None:
            return address, None
        status, reason, text = refused
        metrics.engine_refused_handshakes.labels(reason=reason).inc()
        self._log_once(address, reason, "refused Engine.IO handshakes from %s: %s (HTTP %d); "
                       "further ones are counted in pushsvc_engine_refused_handshakes, not "
                       "logged", address, reason, status)
        return address, (status, text)

    @staticmethod
    def keep_environ(environ: dict[str, Any]) -> None:
        """Before a session keeps its request's environ: drop what holds the request's
        connection (its socket, pywsgi's handler, the request body's stream and so the
        handler's read buffer) — a handshake has no body to read later."""
        for key in (SOCKET_KEY, HANDLER_KEY, "gunicorn.sock"):
            environ.pop(key, None)
        environ["wsgi.input"] = _NO_BODY

    def open_session(self, environ: dict[str, Any], address: str, transport: str
                     ) -> Session | None:
        """Make a session and tell python-socketio; ``None`` when its connect refuses."""
        self.keep_environ(environ)
        session = Session(self, self.generate_id(), address, environ, transport)
        self.sockets[session.sid] = session
        self.admission.add(address)
        handler = self.handlers.get("connect")
        if handler is not None and handler(session.sid, environ) is False:
            self.admission.remove(address)
            session.closed = True
            del self.sockets[session.sid]
            return None
        return session

    def open_packet(self, session: Session, upgrades: list[str]) -> packets.Packet:
        return packets.Packet(OPEN, {
            "sid": session.sid, "upgrades": upgrades,
            "pingInterval": round(self.ping_interval * 1000),
            "pingTimeout": round(self.ping_timeout * 1000),
            "maxPayload": self.limits.max_payload})

    def _polling_handshake(self, environ: dict[str, Any], start_response: StartResponse,
                           cors: list[tuple[str, str]]) -> Iterable[bytes]:
        address, refused = self.admit(environ)
        if refused is not None:
            status = {429: "429 Too Many Requests", 503: "503 Service Unavailable"}[refused[0]]
            return _answer(start_response, status, refused[1].encode(),
                           [*cors, ("Retry-After", "1")])
        session = self.open_session(environ, address, "polling")
        if session is None:
            return _answer(start_response, "401 Unauthorized", b"refused", cors)
        session.start_heartbeat()
        body = packets.encoded_text(self.open_packet(session, ["websocket"]), self.json)
        return _answer(start_response, "200 OK", body.encode("utf-8"), cors)

    def _cors(self, environ: dict[str, Any]) -> list[tuple[str, str]] | None:
        origin = environ.get("HTTP_ORIGIN")
        allowed = self.cors_allowed_origins
        if origin is None or allowed is None:
            return []
        if callable(allowed):
            ok = bool(allowed(origin, environ))
        elif allowed == "*":
            ok = True
        else:
            ok = origin in ([allowed] if isinstance(allowed, str) else list(allowed))
        if not ok:
            return None
        return [("Access-Control-Allow-Origin", str(origin)),
                ("Access-Control-Allow-Credentials", "true")]


class Pacer:
    """Makes a long fan-out yield to the gevent loop (``FANOUT_SLICE_SECONDS``).

    The loop's cached time (``loop.now()``) changes each time the loop runs, so sends seen
    under one value were made in one stretch without a switch to the loop; its age is how long
    that stretch has kept the loop waiting. A few sends (a reply, a connect) never count up to
    a check; only a fan-out does. In the hub itself (a timer's callback) nothing may wait.
    """

    __slots__ = ("_loop", "_seen", "_count")

    def __init__(self) -> None:
        self._loop: Any = None
        self._seen = 0.0
        self._count = 0

    def sent(self) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = gevent.get_hub().loop
        now = loop.now()
        if now != self._seen:
            self._seen, self._count = now, 1
            return
        self._count += 1
        if self._count % FANOUT_CHECK_EVERY or time.time() - now < FANOUT_SLICE_SECONDS:
            return
        hub = gevent.get_hub()
        if gevent.getcurrent() is hub:
            return
        metrics.fanout_yields.inc()
        gevent.sleep(0)
        loop.update_now()  # the next stretch starts now


def _answer(start_response: StartResponse, status: str, body: bytes,
            extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [*_TEXT, ("Content-Length", str(len(body))), *(extra or [])])
    return [body]
