"""The classic protocol's events, one handler each, behind the guards of pushsvc.sio.

With the seed's semantics: any connected client may send to any room and close any room,
without joining it, as in Flask-SocketIO's example app; in ``jwt`` mode the token's claims
decide which rooms a client may join, publish to and close. The handlers whose messages
become bus Events (broadcast, room message, close) spend the publishing budget.
"""

from __future__ import annotations

from typing import Any

from flask_socketio import disconnect, join_room, leave_room
from flask_socketio import rooms as current_rooms

from pushsvc.sio.guards import OK, Guards
from pushsvc.sio.packets import (
    ProtocolError,
    require_data,
    require_object,
    require_room,
    rooms_text,
)

# Sent to each client right after "Connected": which pod it is on (the demo page shows it).
INFO_EVENT = "pushsvc_info"


def _forbid_unless(allowed: bool, what: str) -> None:
    if not allowed:
        raise ProtocolError("forbidden", f"your token does not allow you to {what}")


def _named_rooms(client: str) -> list[str]:
    return [r for r in current_rooms() if r != client]


def register_classic(guards: Guards) -> None:
    """The classic protocol's greeting (``Connected``, and the pod's name on the demo page)
    and its events."""
    socketio, settings, identity = guards.socketio, guards.settings, guards.identity
    reply, sid = settings.reply_event, guards.sid

    def greet(client: str) -> None:
        # The greeting and the pod's name belong to this connection, not to the session's
        # history: sent directly even with recovery on, so a reconnect storm does not also
        # make an Event per reconnect that every pod reads.
        guards.send_reply("Connected", to=client, direct=True)
        if settings.demo_page:  # only the demo page shows which pod it is on
            socketio.emit(INFO_EVENT, {"pod": guards.pod}, to=client, ignore_queue=True)

    guards.greetings.append(greet)

    def checked_room(message: dict[str, Any]) -> str:
        room = require_room(message)
        manager = guards.service.manager
        if manager is not None and manager.is_connected(room, "/"):
            raise ProtocolError("bad_room", "room names equal to a session id are reserved")
        return room

    @guards.guarded("my_event")
    def my_event(message: Any) -> dict[str, Any]:
        data = require_data(require_object(message, shape="{data}"))
        guards.send_reply(data, to=sid())
        return OK

    @guards.guarded("my_broadcast_event")
    def my_broadcast_event(message: Any) -> dict[str, Any]:
        if not settings.allow_client_broadcast:
            raise ProtocolError("disabled", "my_broadcast_event is disabled on this server")
        data = require_data(require_object(message, shape="{data}"))
        _forbid_unless(identity.permissions(sid()).may_broadcast, "broadcast")
        guards.charge_publish(message)
        socketio.emit(reply, {"data": data})
        return OK

    @guards.guarded("join")
    def join(message: Any) -> dict[str, Any]:
        room = checked_room(require_object(message, shape="{room}"))
        client = sid()
        _forbid_unless(identity.permissions(client).may_join(room), "join this room")
        mine = _named_rooms(client)
        if room not in mine and len(mine) >= settings.max_rooms_per_client:
            raise ProtocolError(
                "too_many_rooms",
                f"you are in {len(mine)} rooms, the limit is {settings.max_rooms_per_client}; "
                "leave one first",
            )
        join_room(room)
        guards.send_reply(rooms_text(_named_rooms(client)), to=client)
        return OK

    @guards.guarded("leave")
    def leave(message: Any) -> dict[str, Any]:
        room = checked_room(require_object(message, shape="{room}"))
        leave_room(room)
        guards.send_reply(rooms_text(_named_rooms(sid())), to=sid())
        return OK

    @guards.guarded("my_room_event")
    def my_room_event(message: Any) -> dict[str, Any]:
        body = require_object(message, shape="{room, data}")
        room = checked_room(body)
        data = require_data(body)
        # As in Flask-SocketIO's example app, the sender need not be in the room.
        _forbid_unless(identity.permissions(sid()).may_publish(room), "publish to this room")
        guards.charge_publish(message)
        socketio.emit(reply, {"data": data}, to=room)
        return OK

    @guards.guarded("close_room")
    def close_room(message: Any) -> dict[str, Any]:
        # Any client may close any room (the example app's "Close Room" form); the
        # publishing budget bounds how often, as for a room message.
        room = checked_room(require_object(message, shape="{room}"))
        _forbid_unless(identity.permissions(sid()).may_close(room), "close this room")
        guards.charge_publish(message)
        socketio.emit(reply, {"data": f"Room {room} is closing."}, to=room)
        socketio.close_room(room)
        return OK

    @guards.guarded("my_ping")
    def my_ping(message: Any) -> dict[str, Any]:
        # The classic Flask-SocketIO test page measures latency with my_ping/my_pong.
        socketio.emit("my_pong", to=sid())
        return OK

    @guards.guarded("disconnect_request")
    def disconnect_request(message: Any) -> dict[str, Any]:
        # Both packets go through the sender's one Engine.IO queue, in this order.
        guards.send_reply("Disconnected!", to=sid())
        disconnect()
        return OK
