"""The seam to python-socketio, and the few Socket.IO-layer behaviours the suites ask for.

python-socketio builds its engine in ``socketio.Server._engineio_server_class()``: the
subclass here overrides it (the one documented-by-code seam; no engine internals are
patched). Flask-SocketIO always builds a plain ``socketio.Server``, so ``install()`` builds
ours with the same options and puts it where Flask-SocketIO keeps its server.

Overrides, one line of reason each (python-socketio 5.18):

- ``_handle_eio_connect``: a connect timeout (``PUSHSVC_CONNECT_TIMEOUT_SECONDS``; Node's
  default 45 s) closes an Engine.IO session that joined no namespace — python-socketio has none.
- ``_trigger_event`` (for ``connect``) / ``_send_packet`` / ``_send_eio_packet``: packets the
  connect handler emits are held until the CONNECT reply is sent — python-socketio sends them
  before it; a recovery's replay (sent with the reply, after the handler) is not held, and
  with ``PUSHSVC_RECOVERY_ENABLED`` nothing is (recovery orders those packets itself).
- ``_handle_connect``: an unknown namespace is answered ``{"message": "Invalid namespace"}``
  as Node does — python-socketio answers ``"Unable to connect"``.
- ``_trigger_event``: an exception in an application handler is logged, not taken for an
  invalid packet — the engine closes the connection on any error while dispatching a packet
  (``4abc``, ``42{}``), as the protocol asks, so handler errors must not reach it.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import gevent
import socketio
from socketio import packet as sio_packet

from pushsvc.engineio.bounds import Limits
from pushsvc.engineio.server import Server
from pushsvc.settings import Settings

log = logging.getLogger(__name__)
# The connect handler's packets leave this long after the CONNECT reply, in a write of their
# own: a client that handles frames of one read synchronously (ws 8, the protocol suites)
# would otherwise see them before it listens again. Node's server has the same gap from its
# write callbacks.
_AFTER_REPLY_S = 0.005


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_payload=settings.hard_message_limit_bytes,
        max_sessions_total=settings.max_sessions_total,
        max_sessions_per_address=settings.max_sessions_per_address,
        handshakes_per_second=settings.handshakes_per_second_per_address,
        handshake_burst=settings.handshake_burst_per_address,
        max_queued_bytes=settings.max_queued_bytes_per_client,
        max_frames_per_message=settings.max_frames_per_message,
        max_pending_upgrades=settings.max_pending_upgrades,
        upgrade_timeout=settings.upgrade_timeout_seconds,
        trusted_proxies=tuple(ipaddress.ip_network(p, strict=False)
                              for p in settings.trusted_proxies),
    )


class SocketIOServer(socketio.Server):
    """``socketio.Server`` on pushsvc's engine, with a connect timeout."""

    def __init__(self, *args: Any, connect_timeout: float = 45.0,
                 hold_connect_emits: bool = True, **kwargs: Any) -> None:
        self.connect_timeout = connect_timeout
        self.hold_connect_emits = hold_connect_emits
        self._held: dict[str, list[tuple[str, Any]]] = {}  # while a connect handler runs
        self._deferred: dict[str, list[tuple[str, Any]]] = {}  # until the CONNECT reply
        super().__init__(*args, **kwargs)

    def _engineio_server_class(self) -> type[Server]:  # the seam python-socketio offers
        return Server

    def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        result = super()._handle_eio_connect(eio_sid, environ)
        timer = gevent.get_hub().loop.timer(self.connect_timeout)
        timer.start(lambda: gevent.spawn(self._connect_timed_out, eio_sid, timer))
        return result

    def _connect_timed_out(self, eio_sid: str, timer: Any) -> None:
        timer.close()
        if eio_sid not in self.eio.sockets:
            return
        for namespace in list(self.manager.get_namespaces()):
            if self.manager.sid_from_eio_sid(eio_sid, namespace) is not None:
                return
        session = self.eio.sockets[eio_sid]
        session.close("connect_timeout", flush=False,
                      why=f"no Socket.IO CONNECT within {self.connect_timeout} s")

    def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        namespace = namespace or "/"
        if not self._namespace_known(namespace):  # Node's answer to an unknown namespace
            self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, data={"message": "Invalid namespace"},
                namespace=namespace))
            return
        try:
            super()._handle_connect(eio_sid, namespace, data)
        finally:
            self._held.pop(eio_sid, None)
            if eio_sid in self._deferred:  # no reply was sent: nothing to wait for
                self._send_held(eio_sid, self._deferred.pop(eio_sid))

    def _namespace_known(self, namespace: str) -> bool:
        return (namespace in self.handlers or namespace in self.namespace_handlers
                or self.namespaces == "*" or namespace in self.namespaces)

    def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        eio_sid = None
        if event == "connect" and args and self.hold_connect_emits:
            eio_sid = self.manager.eio_sid_from_sid(args[0], namespace)
            if eio_sid is not None:
                self._held[eio_sid] = []  # what the connect handler sends waits for the reply
        try:
            return super()._trigger_event(event, namespace, *args)
        except (socketio.exceptions.ConnectionRefusedError, ConnectionRefusedError, TypeError):
            raise  # python-socketio's own answers (a refusal; TypeError: the legacy signature)
        except Exception:
            log.exception("the %r handler failed (namespace %s)", event, namespace)
            return False if event == "connect" else None
        finally:
            # Only the handler's packets wait: a recovery's replay, sent with the reply, does not.
            if eio_sid is not None and eio_sid in self._held:
                self._deferred[eio_sid] = self._deferred.get(eio_sid, []) + self._held.pop(eio_sid)

    def _send_held(self, eio_sid: str, held: list[tuple[str, Any]]) -> None:
        for kind, pkt in held:
            if kind == "sio":
                super()._send_packet(eio_sid, pkt)
            else:
                super()._send_eio_packet(eio_sid, pkt)

    def _send_later(self, eio_sid: str, held: list[tuple[str, Any]]) -> None:
        self._send_held(eio_sid, held)

    def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        held = self._held.get(eio_sid)
        if held is not None:
            held.append(("sio", pkt))
            return
        super()._send_packet(eio_sid, pkt)
        if eio_sid in self._deferred and pkt.packet_type in (
                sio_packet.CONNECT, sio_packet.CONNECT_ERROR, sio_packet.DISCONNECT):
            # The reply went out: what the handler sent follows it, in a write of its own.
            gevent.spawn_later(_AFTER_REPLY_S, self._send_later, eio_sid,
                               self._deferred.pop(eio_sid))

    def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        held = self._held.get(eio_sid)
        if held is not None:
            held.append(("eio", eio_pkt))
            return
        super()._send_eio_packet(eio_sid, eio_pkt)


def install(socketio_ext: Any, settings: Settings) -> SocketIOServer:
    """Replace the ``socketio.Server`` Flask-SocketIO built with one on pushsvc's engine."""
    options = dict(socketio_ext.server_options)
    options["engine_limits"] = limits_from(settings)
    # With connection state recovery on, pushsvc.recovery orders the connect's packets itself
    # (its replay and the handler's emits, which carry offsets, before the CONNECT reply).
    server = SocketIOServer(connect_timeout=settings.connect_timeout_seconds,
                            hold_connect_emits=not settings.recovery_enabled, **options)
    old = socketio_ext.server
    for namespace, handlers in old.handlers.items():
        for event, handler in handlers.items():
            server.on(event, handler, namespace=namespace)
    for namespace_handler in old.namespace_handlers.values():
        server.register_namespace(namespace_handler)
    socketio_ext.server = server
    socketio_ext.sockio_mw.engineio_app = server
    return server
