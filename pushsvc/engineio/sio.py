"""The Socket.IO layer on pushsvc's engine: every override of python-socketio it needs, here.

python-socketio stays the Socket.IO layer. What pushsvc changes in it for its engine and its
bounds sits in this module, each with its reason, and ``PINS`` (below) holds a hash of every
python-socketio method those overrides replace or rely on:
``tests/unit/test_the_socketio_layer_matches_the_pinned_library.py`` fails when an upgrade
changes one of them (read the new source, re-check the reason, then update the hash).

Public seams, used first:

- the engine: ``socketio.Server._engineio_server_class()``, python-socketio's hook for the
  class of its engine, returns :class:`pushsvc.engineio.server.Server` (no engine internals
  are patched; Flask-SocketIO always builds a plain ``socketio.Server``, so :func:`install`
  builds ours with the same options and puts it where Flask-SocketIO keeps its server);
- the packet class: ``serializer=`` (a ``socketio.packet.Packet`` subclass, which
  ``socketio.base_server.BaseServer.__init__`` takes as the packet class) is
  :class:`LimitedPacket`, decoding only within pushsvc's bounds;
- ``client_manager=``: pushsvc's bus (``pushsvc.bus``), given by ``init_app``;
- ``always_connect`` is not used: it would send the CONNECT reply before the connect handler
  (Node's order) but turns a refusal into CONNECT then DISCONNECT, where clients expect the
  CONNECT_ERROR pushsvc's checks answer.

Overrides, one line of reason each (python-socketio 5.18):

- ``socketio.packet.Packet.decode`` / ``socketio.packet.Packet.add_attachment``
  (``LimitedPacket``): JSON nesting is measured before ``json.loads`` (20,000 levels raised
  RecursionError), at most ``PUSHSVC_MAX_BINARY_ATTACHMENTS`` attachments (python-socketio
  takes up to 10^10), and an event or ack of the wrong shape is refused before a handler
  indexes it.
- ``socketio.Server._handle_eio_message``: a refused packet is answered here, once per client
  in the log — too deep: an ``error`` event, the connection kept; anything else undecodable
  (``4abc``, ``42{}``, a bad ack id, a binary frame nobody announced): the connection is
  closed, as the protocol says; a binary packet with its attachments counts toward the hard
  limit. python-socketio raises or indexes ``None`` there.
- ``socketio.Server._handle_eio_disconnect``: forgets that per-connection state (the pending
  binary packet itself is dropped by ``socketio.Server._handle_disconnect``).
- ``socketio.Server._handle_eio_connect``: a connect timeout (``PUSHSVC_CONNECT_TIMEOUT_SECONDS``;
  Node's default 45 s) closes an Engine.IO session that joined no namespace — python-socketio
  has none.
- ``socketio.Server._trigger_event`` (for ``connect``) / ``socketio.Server._send_packet`` /
  ``socketio.Server._send_eio_packet``: packets the connect handler emits are held until the
  CONNECT reply is sent — python-socketio sends them before it; a recovery's replay (sent
  with the reply, after the handler) is not held, and with ``PUSHSVC_RECOVERY_ENABLED``
  nothing is (recovery orders those packets itself).
- ``socketio.Server._handle_connect``: an unknown namespace is answered
  ``{"message": "Invalid namespace"}`` as Node does — python-socketio answers
  ``"Unable to connect"``.
- ``socketio.Server._trigger_event``: an exception in an application's event handler is
  logged, not taken for an invalid packet — the engine closes the connection on any error
  while dispatching a packet, so handler errors must not reach it (a connect handler's error
  goes on to ``pushsvc.sio.overrides``, which refuses that CONNECT).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

import gevent
import socketio
from socketio import packet as sio_packet

from emitter.wire import json_depth_exceeds
from pushsvc import metrics
from pushsvc.engineio.bounds import Limits
from pushsvc.engineio.server import Server
from pushsvc.settings import Settings

log = logging.getLogger(__name__)
ERROR_EVENT = "error"
# The connect handler's packets leave this long after the CONNECT reply, in a write of their
# own: a client that handles frames of one read synchronously (ws 8, the protocol suites)
# would otherwise see them before it listens again. Node's server has the same gap from its
# write callbacks.
_AFTER_REPLY_S = 0.005

#: python-socketio method -> (sha256 prefix of its source as pinned, what this module assumes).
PINS: dict[str, tuple[str, str]] = {
    "socketio.base_server.BaseServer.__init__": (
        "6b998e091b34a563", "serializer= other than 'default'/'msgpack' is the packet class; "
        "registers eio 'connect'/'message'/'disconnect' as self._handle_eio_*, builds the "
        "engine from self._engineio_server_class() with async_handlers=False"),
    "socketio.server.Server._handle_eio_message": (
        "65f309c138d634eb", "overridden around it: attachments wait in self._binary_packet "
        "[eio_sid] until add_attachment() returns True; binary before connect raises"),
    "socketio.server.Server._handle_eio_disconnect": (
        "5c0002fcdb35a127", "overridden around it: ends every namespace, drops the environ"),
    "socketio.server.Server._handle_eio_connect": (
        "4be135c046ed6bcc", "overridden around it: keeps the environ in self.environ[eio_sid]"),
    "socketio.server.Server._handle_disconnect": (
        "fb93d61de8cb8c31", "drops self._binary_packet[eio_sid] on disconnect"),
    "socketio.server.Server._handle_connect": (
        "1b0ba130a57d9320", "overridden around it: the connect handler runs through "
        "_trigger_event('connect', ...), the reply (CONNECT / CONNECT_ERROR) through "
        "_send_packet after it"),
    "socketio.server.Server._trigger_event": (
        "836cb0c8d232fd2d", "overridden around it: runs the application's handler"),
    "socketio.server.Server._send_packet": (
        "3289b949be8cbb76", "overridden around it: every Socket.IO packet of one client"),
    "socketio.server.Server._send_eio_packet": (
        "5fa452fb118c3565", "overridden around it: Manager.emit's ack-less EVENTs"),
    "socketio.server.Server._engineio_server_class": (
        "8d7e7034b2457036", "returns the engine class BaseServer.__init__ instantiates"),
    "socketio.packet.Packet.decode": (
        "61ad7904b539f472", "overridden by LimitedPacket.decode: returns the announced count "
        "(up to 10 digits), json.loads the rest"),
    "socketio.packet.Packet.add_attachment": (
        "01e024038f3d99f5", "overridden by LimitedPacket.add_attachment: True when complete"),
}


# --- the packet class ---------------------------------------------------------------------


def json_too_deep(text: str, max_depth: int) -> bool:
    """True if the JSON in ``text`` nests deeper than ``max_depth`` (the bus's own check,
    ``emitter.wire.json_depth_exceeds``: no recursion, linear time)."""
    return json_depth_exceeds(text, max_depth)


class BadPacket(ValueError):
    """A Socket.IO packet refused before any handler; ``code`` is stable, ``reason`` safe."""

    code = "bad_packet"
    closes = True

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooDeep(BadPacket):
    code = "too_deep"
    closes = False


class TooManyAttachments(BadPacket):
    code = "too_many_attachments"


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


def packet_class(settings: Settings) -> type[LimitedPacket]:
    """The ``serializer=`` for ``settings``' bounds (a class of its own: python-socketio sets
    ``json`` on the class it is given)."""
    return type("PushsvcPacket", (LimitedPacket,), {
        "max_json_depth": settings.max_json_depth,
        "max_attachments": settings.max_binary_attachments,
    })


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


# --- the server -------------------------------------------------------------------------


@dataclass(frozen=True)
class PacketLimits:
    """The bounds ``_handle_eio_message`` holds: a binary packet with its attachments."""

    hard_limit_bytes: int


class SocketIOServer(socketio.Server):
    """``socketio.Server`` on pushsvc's engine (see the module docstring for each override)."""

    def __init__(self, *args: Any, connect_timeout: float = 45.0,
                 hold_connect_emits: bool = True, packet_limits: PacketLimits | None = None,
                 **kwargs: Any) -> None:
        self.connect_timeout = connect_timeout
        self.hold_connect_emits = hold_connect_emits
        self.packet_limits = packet_limits
        self._held: dict[str, list[tuple[str, Any]]] = {}  # while a connect handler runs
        self._deferred: dict[str, list[tuple[str, Any]]] = {}  # until the CONNECT reply
        self._pending_bytes: dict[str, int] = {}  # a binary packet's attachments so far
        super().__init__(*args, **kwargs)

    def _engineio_server_class(self) -> type[Server]:  # the seam python-socketio offers
        return Server

    # -- packets in ------------------------------------------------------------------------
    def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if self.packet_limits is None:  # the conformance apps: python-socketio's own checks
            super()._handle_eio_message(eio_sid, data)
            return
        session = self.eio.sockets.get(eio_sid)
        if session is not None and (session.closing or session.closed):
            return  # closed for a limit: what is still in flight is not read
        waiting = eio_sid in self._binary_packet
        if waiting:
            total = self._pending_bytes.get(eio_sid, 0) + (
                len(data) if isinstance(data, bytes | bytearray | str) else 0)
            hard = self.packet_limits.hard_limit_bytes
            if total > hard:
                self._binary_packet.pop(eio_sid, None)
                self._pending_bytes.pop(eio_sid, None)
                self.eio.close_for(eio_sid, "too_large",
                                   f"a binary packet with its attachments exceeded the hard "
                                   f"limit of {hard} bytes (4 x PUSHSVC_MAX_MESSAGE_BYTES)")
                return
            self._pending_bytes[eio_sid] = total
        try:
            if waiting:
                pass  # an attachment: LimitedPacket.add_attachment checks it
            elif not isinstance(data, str):
                raise BadPacket("a binary frame no packet announced")
            elif not data:  # Packet("") skips decode() and stays an EVENT without data
                raise BadPacket("an empty Socket.IO packet")
            elif data[:1] in ("5", "6") and self.manager.sid_from_eio_sid(
                    eio_sid, _namespace_of(data)) is None:
                raise BadPacket("a binary packet before connecting")
            super()._handle_eio_message(eio_sid, data)
        except BadPacket as exc:
            self._binary_packet.pop(eio_sid, None)
            self._pending_bytes.pop(eio_sid, None)
            self._refuse(eio_sid, exc, data if isinstance(data, str) else None)
            return
        if eio_sid in self._binary_packet:
            if not waiting:
                self._pending_bytes[eio_sid] = len(data)
        else:
            self._pending_bytes.pop(eio_sid, None)

    def _refuse(self, eio_sid: str, exc: BadPacket, text: str | None) -> None:
        if exc.closes:
            self.eio.close_for(eio_sid, exc.code, exc.reason)
            return
        metrics.engine_refused_packets.labels(reason=exc.code).inc()
        self.eio._log_once(eio_sid, exc.code, "refused a Socket.IO packet from engine.io sid "
                           "%s: %s (%s); further ones from this client are counted, not "
                           "logged", eio_sid, exc.code, exc.reason)
        if isinstance(exc, TooDeep) and text is not None:
            namespace = _namespace_of(text)
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None:
                self.emit(ERROR_EVENT, {"event": "?", "code": exc.code, "reason": exc.reason},
                          to=sid, namespace=namespace)

    def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._pending_bytes.pop(eio_sid, None)
        super()._handle_eio_disconnect(eio_sid, reason)

    # -- the connect timeout -----------------------------------------------------------------
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

    # -- CONNECT: the namespace, then the reply before the handler's emits -------------------
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
            if event == "connect":
                raise  # pushsvc.sio.overrides refuses it, counts it and forgets the client
            log.exception("the %r handler failed (namespace %s)", event, namespace)
            return None
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


def limits_from(settings: Settings) -> Limits:
    """The engine's bounds from ``settings``."""
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


def install(socketio_ext: Any, settings: Settings) -> SocketIOServer:
    """Replace the ``socketio.Server`` Flask-SocketIO built with one on pushsvc's engine."""
    options = dict(socketio_ext.server_options)
    options["engine_limits"] = limits_from(settings)
    options["serializer"] = packet_class(settings)
    # With connection state recovery on, pushsvc.recovery orders the connect's packets itself
    # (its replay and the handler's emits, which carry offsets, before the CONNECT reply).
    server = SocketIOServer(
        connect_timeout=settings.connect_timeout_seconds,
        hold_connect_emits=not settings.recovery_enabled,
        packet_limits=PacketLimits(hard_limit_bytes=settings.hard_message_limit_bytes),
        **options)
    old = socketio_ext.server
    for namespace, handlers in old.handlers.items():
        for event, handler in handlers.items():
            server.on(event, handler, namespace=namespace)
    for namespace_handler in old.namespace_handlers.values():
        server.register_namespace(namespace_handler)
    socketio_ext.server = server
    socketio_ext.sockio_mw.engineio_app = server
    admission = server.eio.admission
    # Read when scraped: a gauge set on every connect and disconnect took a lock each time.
    metrics.engine_sessions.set_function(lambda: admission.total)
    return server
