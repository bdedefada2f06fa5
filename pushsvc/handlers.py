"""The classic Flask-SocketIO demo protocol, with input checks.

Events (client → server) and what they do:

- ``my_event {data}``: echo to the sender.
- ``my_broadcast_event {data}``: to every client (switch: allow_client_broadcast).
- ``join {room}`` / ``leave {room}``: enter or leave a room; reply "In rooms: ...".
- ``my_room_event {room, data}``: to everyone in the room.
- ``close_room {room}``: tell the room it is closing, then empty it
  (switch: allow_client_close_room).
- ``disconnect_request``: reply "Disconnected!", then the server disconnects the sender.
- ``my_ping``: ``my_pong`` back to the sender (the classic page's latency probe).

Replies and pushes are the reply event (``nuke_response``) with ``{"data": ...}``.
Every handler returns an ack: ``{"ok": true}`` or ``{"ok": false, "event", "code",
"reason"}``; on error the sender also gets an ``error`` event with
``{"event", "code", "reason"}``, the server logs one line without the payload,
and the connection stays open.
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

from pushsvc import metrics
from pushsvc.protocol import (
    ProtocolError,
    check_size,
    require_data,
    require_object,
    require_room,
)
from pushsvc.service import PushService
from pushsvc.settings import Settings

log = logging.getLogger(__name__)

ERROR_EVENT = "error"
# Sent to each client right after "Connected": which pod it is on (the demo page shows it).
INFO_EVENT = "pushsvc_info"
OK: dict[str, Any] = {"ok": True}


def register_handlers(socketio: SocketIO, *, settings: Settings, service: PushService) -> None:
    """Register connect/disconnect, the demo events and the unknown-event catch-all."""
    reply = settings.reply_event
    limit = settings.max_message_bytes
    pod = settings.pod_name or f"{socket.gethostname()}:{settings.port}"

    def sid() -> str:
        return str(request.sid)  # type: ignore[attr-defined]

    def send_reply(data: Any, *, to: str) -> None:
        socketio.emit(reply, {"data": data}, to=to)

    def reject(event: str, err: ProtocolError) -> dict[str, Any]:
        payload = err.as_payload(event)
        metrics.rejected_messages.labels(code=err.code).inc()
        log.warning("rejected %r from %s: %s (%s)", event, sid(), err.code, err.reason)
        socketio.emit(ERROR_EVENT, payload, to=sid())
        return {"ok": False, **payload}

    def guarded(event: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def handler(*args: Any) -> Any:
                try:
                    check_size(args, limit=limit)
                    return fn(args[0] if args else None)
                except ProtocolError as err:
                    return reject(event, err)

            socketio.on_event(event, handler)
            return handler

        return wrap

    def checked_room(message: dict[str, Any]) -> str:
        room = require_room(message)
        manager = service.manager
        if manager is not None and manager.is_connected(room, "/"):
            raise ProtocolError("bad_room", "room names equal to a session id are reserved")
        return room

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        if service.shutting_down:
            metrics.refused_connections.labels(reason="shutting_down").inc()
            log.info("refused connection %s: shutting down", sid())
            raise ConnectionRefusedError("server shutting down")
        if settings.auth_token is not None:
            token = auth.get("token") if isinstance(auth, dict) else None
            if not isinstance(token, str) or not hmac.compare_digest(
                token.encode(), settings.auth_token.encode()
            ):
                metrics.refused_connections.labels(reason="auth").inc()
                log.warning("refused connection %s: missing or wrong auth token", sid())
                raise ConnectionRefusedError("unauthorized")
        metrics.connected_clients.inc()
        send_reply("Connected", to=sid())
        socketio.emit(INFO_EVENT, {"pod": pod}, to=sid())

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> None:
        metrics.connected_clients.dec()

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
        socketio.emit(reply, {"data": data})
        return OK

    @guarded("join")
    def join(message: Any) -> dict[str, Any]:
        room = checked_room(require_object(message, shape="{room}"))
        join_room(room)
        send_reply(_rooms_text(sid()), to=sid())
        return OK

    @guarded("leave")
    def leave(message: Any) -> dict[str, Any]:
        room = checked_room(require_object(message, shape="{room}"))
        leave_room(room)
        send_reply(_rooms_text(sid()), to=sid())
        return OK

    @guarded("my_room_event")
    def my_room_event(message: Any) -> dict[str, Any]:
        body = require_object(message, shape="{room, data}")
        room = checked_room(body)
        data = require_data(body)
        socketio.emit(reply, {"data": data}, to=room)
        return OK

    @guarded("close_room")
    def close_room(message: Any) -> dict[str, Any]:
        if not settings.allow_client_close_room:
            raise ProtocolError("disabled", "close_room is disabled on this server")
        room = checked_room(require_object(message, shape="{room}"))
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

    def unknown_event(event: str, *args: Any) -> dict[str, Any]:
        name = event[:64] if isinstance(event, str) else "?"
        try:
            check_size(args, limit=limit)
        except ProtocolError as err:
            return reject(name, err)
        return reject(name, ProtocolError("unknown_event", f"unknown event {name!r}"))

    socketio.on_event("*", unknown_event)


def _rooms_text(sid: str) -> str:
    names = sorted(r for r in current_rooms() if r != sid)
    return "In rooms: " + (", ".join(names) if names else "(none)")
