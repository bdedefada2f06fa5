"""Connect checks and client limits for every app; the classic Flask-SocketIO demo protocol
for the apps that ask for it.

``register_handlers`` always installs the connect/disconnect handlers (shutdown refusal, the
auth token, identity), the ``pushsvc_refresh`` event and the unknown-event catch-all; with
``classic=True`` (``create_app()``, ``pushsvc serve``, ``pushsvc demo``) it adds the classic
protocol, with the seed's semantics: any connected client may send to any room and close any
room, without joining it, as in Flask-SocketIO's example app. An existing app's
``init_app(app)`` gets none of it unless it asks (``init_app(app, classic=True)``): its
clients then cannot broadcast or reach rooms through pushsvc's events.

Classic events (client → server) and what they do:

- ``my_event {data}``: echo to the sender.
- ``my_broadcast_event {data}``: to every client (switch: allow_client_broadcast).
- ``join {room}`` / ``leave {room}``: enter or leave a room; reply "In rooms: ...".
- ``my_room_event {room, data}``: to everyone in the room; the sender need not be in it.
- ``close_room {room}``: tell the room it is closing, then empty it (on every pod); any
  client may close any room.
- ``disconnect_request``: reply "Disconnected!", then the server disconnects the sender.
- ``my_ping``: ``my_pong`` back to the sender (the classic page's latency probe).

Replies and pushes are the reply event (``nuke_response``) with ``{"data": ...}``; a
classic client gets ``Connected`` as its first reply. Every handler returns an ack:
``{"ok": true}`` or ``{"ok": false, "event", "code", "reason"}``; on error the sender also
gets an ``error`` event with ``{"event", "code", "reason"}``, the server logs one line
without the payload, and the connection stays open.

Abuse is bounded by limits, not by narrower semantics (pushsvc.sio.budget): events per second
per client (code ``rate_limited``; a client that keeps hammering is disconnected), a
publishing budget per client and per pod, in messages and bytes, for the handlers whose
messages become bus Events (code ``publish_rate_limited``), rooms per client (code
``too_many_rooms``). Room names shaped like a session id or with a reserved prefix are
refused everywhere a client names a room (pushsvc.sio.packets). In ``jwt`` mode the token's
claims decide which rooms a client may join, publish to and close. Any exception while
checking a connect refuses it: python-socketio would otherwise leave the client
pre-connected (receiving broadcasts) and never clean it up.
"""

from __future__ import annotations

import functools
import hmac
import logging
import socket
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, SocketIO, disconnect, join_room, leave_room
from flask_socketio import rooms as current_rooms
from socketio import packet

from pushsvc import identity as ids
from pushsvc import metrics
from pushsvc.connect_guard import first_refusal
from pushsvc.service import PushService
from pushsvc.settings import Settings
from pushsvc.sio.budget import ClientBudget, StrikeCounter, TokenBucket, take_all
from pushsvc.sio.packets import (
    ProtocolError,
    check_size,
    encoded_size,
    require_data,
    require_object,
    require_room,
    rooms_text,
)

logger = logging.getLogger(__name__)

ERROR_EVENT = "error"
# Sent to each client right after "Connected": which pod it is on (the demo page shows it).
INFO_EVENT = "pushsvc_info"
OK: dict[str, Any] = {"ok": True}
CONNECT_CHECK_FAILED = "connection check failed"
# Refused CONNECTs are logged once per Engine.IO connection and reason (pushsvc.connect_guard).
_NOT_AGAIN = "; further such refusals on this connection are counted, not logged"
#: Set on pushsvc's own handlers, which run the checks themselves (``guarded``).
_GUARDED = "_pushsvc_guarded"
#: Handlers that are not a client's events.
_NOT_EVENTS = frozenset({"connect", "disconnect", "*"})
EventGuard = Callable[[str, tuple[Any, ...]], "dict[str, Any] | None"]
_PUBLISH_LIMITS = (
    ("client", "messages"),
    ("client", "bytes"),
    ("pod", "messages"),
    ("pod", "bytes"),
)


def token_matches(given: object, expected: str) -> bool:
    """Constant-time comparison that never raises, whatever the client sent.

    A JSON string may hold a lone surrogate (``"\\ud800"``), which ``str.encode()`` refuses;
    ``surrogatepass`` encodes it (to bytes that match no real token).
    """
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class PushSocketIO(SocketIO):
    """The SocketIO ``init_app`` returns: every event handler registered on it, the
    application's own included (``@socketio.on("add")``, ``on_event``, ``event``), first
    passes the per-client event rate and the message size checks that ``register_handlers``
    installs (``event_guard``); a refused event gets the same ack and ``error`` event as a
    classic one, and the application's handler is not called."""

    event_guard: EventGuard | None = None

    def on(self, message: str, namespace: str | None = None
           ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().on(message, namespace)
        if message in _NOT_EVENTS:
            return register

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            if getattr(handler, _GUARDED, False):
                return register(handler)

            @functools.wraps(handler)
            def checked(*args: Any) -> Any:
                guard = self.event_guard
                refused = guard(message, args) if guard is not None else None
                return refused if refused is not None else handler(*args)

            register(checked)
            return handler

        return decorator


def register_handlers(socketio: SocketIO, *, settings: Settings, service: PushService,
                      identity: ids.Identity | None = None, classic: bool = True,
                      ) -> Callable[[str], ClientBudget | None]:
    """Register connect/disconnect, token refresh and the unknown-event catch-all, and with
    ``classic`` the classic demo protocol (its events and its ``Connected`` greeting).

    Returns how to find a connected client's budget by sid (recovery charges the snapshot
    writes a client causes to its publish byte budget).
    """
    identity = identity if identity is not None else ids.Identity(settings)
    reply = settings.reply_event
    limit = settings.max_message_bytes
    pod = settings.pod_name or f"{socket.gethostname()}:{settings.port}"
    budgets: dict[str, ClientBudget] = {}
    counted: set[str] = set()
    pod_messages = TokenBucket(
        rate=settings.publish_pod_messages_per_second, burst=settings.publish_pod_burst_messages
    )
    pod_bytes = TokenBucket(
        rate=settings.publish_pod_bytes_per_second, burst=settings.publish_pod_burst_bytes
    )
    metrics.sessions.set_function(lambda: len(service.local_sids()))
    if socketio.server is not None:
        _refuse_connect_on_error(socketio.server)

    def sid() -> str:
        return str(request.sid)  # type: ignore[attr-defined]

    def budget_of(client: str) -> ClientBudget:
        budget = budgets.get(client)
        if budget is None:
            budget = ClientBudget(
                events=TokenBucket(
                    rate=settings.client_events_per_second, burst=settings.client_events_burst
                ),
                publish_messages=TokenBucket(
                    rate=settings.publish_client_messages_per_second,
                    burst=settings.publish_client_burst_messages,
                ),
                publish_bytes=TokenBucket(
                    rate=settings.publish_client_bytes_per_second,
                    burst=settings.publish_client_burst_bytes,
                ),
                rate_strikes=StrikeCounter(
                    limit=settings.client_rate_limited_disconnect_after,
                    window=settings.client_rate_limited_window_seconds,
                ),
            )
            # A handler still running for a client that has just disconnected must not
            # leave its budget behind: only connected clients keep one.
            if client in counted:
                budgets[client] = budget
        return budget

    def send_reply(data: Any, *, to: str, direct: bool = False) -> None:
        # direct: straight to this pod's socket, never an Event (with connection state
        # recovery on, every other reply goes through the bus to carry an offset).
        socketio.emit(reply, {"data": data}, to=to, ignore_queue=direct)

    def reject(event: str, err: ProtocolError) -> dict[str, Any]:
        payload = err.as_payload(event)
        client = sid()
        metrics.rejected_messages.labels(code=err.code).inc()
        if budget_of(client).first_time(err.code):
            logger.warning(
                "rejected %r from %s: %s (%s); further %s refusals of this client are not "
                "logged", event, client, err.code, err.reason, err.code,
            )
        socketio.emit(ERROR_EVENT, payload, to=client)
        return {"ok": False, **payload}

    def over_rate(event: str) -> dict[str, Any] | None:
        """None if the client may send one more event now, else the refusal (ack value)."""
        client = sid()
        budget = budget_of(client)
        if budget.disconnecting:
            return {"ok": False, "event": event, "code": "rate_limited",
                    "reason": "disconnecting"}
        if budget.events.take(1.0):
            return None
        answer = reject(event, ProtocolError(
            "rate_limited",
            f"more than {settings.client_events_per_second:g} events per second (bursts of "
            f"{settings.client_events_burst}); this message was dropped, slow down",
        ))
        if budget.rate_strikes.hit():
            budget.disconnecting = True
            reason = (
                f"disconnected: {settings.client_rate_limited_disconnect_after} messages "
                f"refused for rate within {settings.client_rate_limited_window_seconds:g} s"
            )
            metrics.client_disconnects.labels(reason="rate_limited").inc()
            logger.warning("disconnected %s: kept sending over its event rate", client)
            socketio.emit(
                ERROR_EVENT,
                {"event": event, "code": "rate_limited_disconnect", "reason": reason},
                to=client,
            )
            disconnect(sid=client)
        return answer

    def charge_publish(message: Any) -> None:
        """Spend the client's and the pod's publishing budget on one message, or refuse it."""
        size = encoded_size(message)
        budget = budget_of(sid())
        short = take_all([
            (budget.publish_messages, 1.0), (budget.publish_bytes, float(size)),
            (pod_messages, 1.0), (pod_bytes, float(size)),
        ])
        if short is None:
            return
        scope, unit = _PUBLISH_LIMITS[short]
        metrics.publish_refused.labels(scope=scope, unit=unit).inc()
        whose = "your" if scope == "client" else "this server's"
        raise ProtocolError(
            "publish_rate_limited",
            f"over {whose} publishing budget ({unit} per second) for messages to other "
            "clients; this message was dropped, try again later",
        )

    def guarded(event: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def handler(*args: Any) -> Any:
                refused = over_rate(event)
                if refused is not None:
                    return refused
                try:
                    check_size(args, limit=limit)
                    return fn(args[0] if args else None)
                except ProtocolError as err:
                    return reject(event, err)

            setattr(handler, _GUARDED, True)
            socketio.on_event(event, handler)
            return handler

        return wrap

    def checked_room(message: dict[str, Any]) -> str:
        room = require_room(message)
        manager = service.manager
        if manager is not None and manager.is_connected(room, "/"):
            raise ProtocolError("bad_room", "room names equal to a session id are reserved")
        return room

    def forbid_unless(allowed: bool, what: str) -> None:
        if not allowed:
            raise ProtocolError("forbidden", f"your token does not allow you to {what}")

    def named_rooms(client: str) -> list[str]:
        return [r for r in current_rooms() if r != client]

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        client = sid()
        try:
            if service.shutting_down:
                metrics.refused_connections.labels(reason="shutting_down").inc()
                if first_refusal(request.environ, "shutting_down"):
                    logger.info("refused connection %s: shutting down", client)
                raise ConnectionRefusedError("server shutting down")
            principal = None
            if identity.mode == "token" and settings.auth_token is not None:
                token = auth.get("token") if isinstance(auth, dict) else None
                if not token_matches(token, settings.auth_token.get_secret_value()):
                    metrics.refused_connections.labels(reason="auth").inc()
                    if first_refusal(request.environ, "auth"):
                        logger.warning("refused connection %s: missing or wrong auth token%s",
                                       client, _NOT_AGAIN)
                    raise ConnectionRefusedError("unauthorized")
            try:
                principal = identity.authenticate(auth, request.environ)
            except ids.AuthRefused as refused:
                metrics.refused_connections.labels(reason=refused.code).inc()
                if first_refusal(request.environ, refused.code):
                    logger.info("refused connection %s: %s%s", client, refused.code, _NOT_AGAIN)
                raise ConnectionRefusedError(
                    refused.code, {"code": refused.code, "reason": refused.reason}
                ) from None
            if principal is not None:
                join_room(principal.room)  # all of this user's tabs, on every pod
            # The greeting and the pod's name belong to this connection, not to the
            # session's history: sent directly even with recovery on, so a reconnect storm
            # does not also make an Event per reconnect that every pod reads.
            if classic:
                send_reply("Connected", to=client, direct=True)
                if settings.demo_page:  # only the demo page shows which pod it is on
                    socketio.emit(INFO_EVENT, {"pod": pod}, to=client, ignore_queue=True)
        except ConnectionRefusedError:
            raise
        except Exception as exc:
            metrics.refused_connections.labels(reason="error").inc()
            if first_refusal(request.environ, "error"):
                logger.warning("refused connection %s: %s while checking it%s", client,
                               type(exc).__name__, _NOT_AGAIN)
            raise ConnectionRefusedError(CONNECT_CHECK_FAILED) from exc
        identity.register(client, principal)
        counted.add(client)
        metrics.connected_clients.inc()

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> None:
        client = sid()
        budgets.pop(client, None)
        identity.sessions.remove(client)
        if client in counted:
            counted.discard(client)
            metrics.connected_clients.dec()

    def register_classic() -> None:
        """The classic demo protocol's events (only where the application asked for it)."""

        @guarded("my_event")
        def my_event(message: Any) -> dict[str, Any]:
            data = require_data(require_object(message, shape="{data}"))
            send_reply(data, to=sid())
            return OK

        @guarded("my_broadcast_event")
        def my_broadcast_event(message: Any) -> dict[str, Any]:
            if not settings.allow_client_broadcast:
                raise ProtocolError("disabled", "my_broadcast_event is disabled on this server")
            data = require_data(require_object(message, shape="{data}"))
            forbid_unless(identity.permissions(sid()).may_broadcast, "broadcast")
            charge_publish(message)
            socketio.emit(reply, {"data": data})
            return OK

        @guarded("join")
        def join(message: Any) -> dict[str, Any]:
            room = checked_room(require_object(message, shape="{room}"))
            client = sid()
            forbid_unless(identity.permissions(client).may_join(room), "join this room")
            mine = named_rooms(client)
            if room not in mine and len(mine) >= settings.max_rooms_per_client:
                raise ProtocolError(
                    "too_many_rooms",
                    f"you are in {len(mine)} rooms, the limit is {settings.max_rooms_per_client}; "
                    "leave one first",
                )
            join_room(room)
            send_reply(rooms_text(named_rooms(client)), to=client)
            return OK

        @guarded("leave")
        def leave(message: Any) -> dict[str, Any]:
            room = checked_room(require_object(message, shape="{room}"))
            leave_room(room)
            send_reply(rooms_text(named_rooms(sid())), to=sid())
            return OK

        @guarded("my_room_event")
        def my_room_event(message: Any) -> dict[str, Any]:
            body = require_object(message, shape="{room, data}")
            room = checked_room(body)
            data = require_data(body)
            # As in Flask-SocketIO's example app, the sender need not be in the room.
            forbid_unless(identity.permissions(sid()).may_publish(room), "publish to this room")
            charge_publish(message)
            socketio.emit(reply, {"data": data}, to=room)
            return OK

        @guarded("close_room")
        def close_room(message: Any) -> dict[str, Any]:
            # Any client may close any room (the example app's "Close Room" form); the
            # publishing budget bounds how often, as for a room message.
            room = checked_room(require_object(message, shape="{room}"))
            forbid_unless(identity.permissions(sid()).may_close(room), "close this room")
            charge_publish(message)
            socketio.emit(reply, {"data": f"Room {room} is closing."}, to=room)
            socketio.close_room(room)
            return OK

        @guarded("my_ping")
        def my_ping(message: Any) -> dict[str, Any]:
            # The classic Flask-SocketIO test page measures latency with my_ping/my_pong.
            socketio.emit("my_pong", to=sid())
            return OK

        @guarded("disconnect_request")
        def disconnect_request(message: Any) -> dict[str, Any]:
            # Both packets go through the sender's one Engine.IO queue, in this order.
            send_reply("Disconnected!", to=sid())
            disconnect()
            return OK

    if classic:
        register_classic()

    def app_event_guard(event: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        """The checks every event passes before the application's own handler runs."""
        refused = over_rate(event)
        if refused is not None:
            return refused
        try:
            check_size(args, limit=limit)
        except ProtocolError as err:
            return reject(event, err)
        return None

    if isinstance(socketio, PushSocketIO):
        socketio.event_guard = app_event_guard

    @guarded(ids.REFRESH_EVENT)
    def refresh_token(message: Any) -> dict[str, Any]:
        token = require_object(message, shape="{token}").get("token")
        try:
            principal = identity.refresh(sid(), token)
        except ids.AuthRefused as refused:
            metrics.token_refreshes.labels(result=refused.code).inc()
            raise ProtocolError(refused.code, refused.reason) from None
        metrics.token_refreshes.labels(result="ok").inc()
        return {"ok": True, "exp": principal.expires_at}

    def expire(client: str) -> None:
        metrics.client_disconnects.labels(reason="token_expired").inc()
        logger.info("disconnected %s: token_expired", client)
        socketio.emit(ERROR_EVENT, {"event": "connect", "code": "token_expired",
                                    "reason": ids.EXPIRED_REASON}, to=client)
        if socketio.server is not None:
            socketio.server.disconnect(client, namespace="/")

    identity.start_sweeper(socketio, expire)

    def unknown_event(event: str, *args: Any) -> dict[str, Any]:
        name = event[:64] if isinstance(event, str) else "?"
        refused = over_rate(name)
        if refused is not None:
            return refused
        try:
            check_size(args, limit=limit)
        except ProtocolError as err:
            return reject(name, err)
        return reject(name, ProtocolError("unknown_event", f"unknown event {name!r}"))

    socketio.on_event("*", unknown_event)
    return budgets.get


def _refuse_connect_on_error(server: Any) -> None:
    """Refuse, and forget, a connect whose handling raised anywhere, not only in our handler.

    python-socketio's ``_handle_connect`` turns only ConnectionRefusedError into a refusal.
    Any other exception (in Flask-SocketIO's wrapper, or an application's own connect
    handler) escapes it with the client pre-connected: in the manager's rooms, so it gets
    broadcasts, and never removed, because the disconnect path skips pre-connected clients.
    This wraps that one method (python-socketio is pinned in pyproject.toml).
    """
    original = server._handle_connect

    def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
        try:
            return original(eio_sid, namespace, data)
        except Exception as exc:
            ns = namespace or "/"
            manager = server.manager
            client = manager.sid_from_eio_sid(eio_sid, ns)
            metrics.refused_connections.labels(reason="error").inc()
            if first_refusal(server.environ.get(eio_sid), "error"):
                logger.warning("refused connection %s: %s while connecting it%s", client,
                               type(exc).__name__, _NOT_AGAIN)
            if client is not None and not manager.is_connected(client, ns):
                server._send_packet(eio_sid, server.packet_class(
                    packet.CONNECT_ERROR, data={"message": CONNECT_CHECK_FAILED}, namespace=ns))
                manager.disconnect(client, ns, ignore_queue=True)
            return None

    server._handle_connect = handle_connect
