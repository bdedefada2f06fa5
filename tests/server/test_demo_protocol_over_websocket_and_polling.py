"""Every demo event, with the python-socketio client, over WebSocket and over long-polling."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tests.support import PushsvcProcess, RecordingClient, wait_until

Clients = Callable[..., RecordingClient]


def _pair(server: PushsvcProcess, clients: Clients, transport: str) -> tuple[RecordingClient, ...]:
    a = clients(transports=[transport]).connect(server.url)
    b = clients(transports=[transport]).connect(server.url)
    for c in (a, b):
        assert c.transport == transport
        c.wait_for_reply("Connected")
    return a, b


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def test_my_event_is_echoed_to_the_sender_only(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, b = _pair(server, clients, transport)
    assert a.call("my_event", {"data": "hello"}) == {"ok": True}
    a.wait_for_reply("hello")
    b.call("my_event", {"data": "b's own"})
    b.wait_for_reply("b's own")
    assert "hello" not in b.replies()
    assert "b's own" not in a.replies()


def test_my_event_accepts_a_number(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, _ = _pair(server, clients, transport)
    a.emit("my_event", {"data": 42})
    a.wait_for_reply(42)


def test_my_broadcast_event_reaches_every_client_including_the_sender(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, b = _pair(server, clients, transport)
    text = f"to all {uuid.uuid4().hex[:6]}"
    b.emit("my_broadcast_event", {"data": text})
    a.wait_for_reply(text)
    b.wait_for_reply(text)


def test_room_messages_from_a_non_member_reach_members_only_until_they_leave(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, b = _pair(server, clients, transport)
    room = _room()
    assert a.call("join", {"room": room}) == {"ok": True}
    a.wait_for_reply(f"In rooms: {room}")
    # b never joins: as in Flask-SocketIO's example app, any client may send to any room.
    assert b.call("my_room_event", {"room": room, "data": "first"}) == {"ok": True}
    a.wait_for_reply("first")
    assert a.call("leave", {"room": room}) == {"ok": True}
    a.wait_for_reply("In rooms: (none)")
    assert b.call("my_room_event", {"room": room, "data": "second"}) == {"ok": True}
    # A marker from b after the second message: once it is at a, the second had its chance.
    b.call("my_broadcast_event", {"data": "marker"})
    a.wait_for_reply("marker")
    b.wait_for_reply("marker")
    assert "second" not in a.replies()
    assert "first" not in b.replies()


def test_a_client_can_be_in_several_rooms(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, _ = _pair(server, clients, transport)
    r1, r2 = sorted([_room(), _room()])
    a.call("join", {"room": r1})
    a.call("join", {"room": r2})
    a.wait_for_reply(f"In rooms: {r1}, {r2}")


def test_close_room_from_a_non_member_tells_the_room_and_empties_it(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, b = _pair(server, clients, transport)
    room = _room()
    a.call("join", {"room": room})
    a.wait_for_reply(f"In rooms: {room}")
    # b is not in the room and closes it anyway (the example app's "Close Room" form).
    assert b.call("close_room", {"room": room}) == {"ok": True}
    a.wait_for_reply(f"Room {room} is closing.")
    b.call("my_room_event", {"room": room, "data": "after close"})
    b.call("my_broadcast_event", {"data": "marker"})
    a.wait_for_reply("marker")
    assert "after close" not in a.replies()
    assert f"Room {room} is closing." not in b.replies()


def test_disconnect_request_says_goodbye_then_disconnects_only_that_client(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, b = _pair(server, clients, transport)
    a.emit("disconnect_request")
    a.wait_for_reply("Disconnected!")
    wait_until(lambda: not a.connected, what="the server to disconnect the client")
    assert a.disconnect_reasons == ["server disconnect"]
    assert b.call("my_event", {"data": "still here"}) == {"ok": True}
    b.wait_for_reply("still here")


def test_my_ping_is_answered_with_my_pong(
    server: PushsvcProcess, clients: Clients, transport: str
) -> None:
    a, _ = _pair(server, clients, transport)
    a.emit("my_ping")
    a.wait_for("my_pong")
