"""Bad client input: an ack and an ``error`` event with a reason, one log line without the
payload, and both that client and the others keep working."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import PushsvcProcess, RecordingClient, wait_until

SECRET = "PAYLOAD-MUST-NOT-BE-LOGGED"
ROOM_EVENTS = ["join", "leave", "my_room_event", "close_room"]

BAD_ROOMS: dict[str, Any] = {
    "missing": {"secret": SECRET},
    "non-string": {"room": [SECRET]},
    "number": {"room": 7, "secret": SECRET},
    "empty": {"room": "", "secret": SECRET},
    "blank": {"room": "   ", "secret": SECRET},
    "over 128 characters": {"room": SECRET + "x" * 129},
}

# (event, arguments, expected code)
BAD_MESSAGES: dict[str, tuple[str, tuple[Any, ...], str]] = {
    "my_event with a string instead of an object": ("my_event", (SECRET,), "bad_message"),
    "my_event with no argument": ("my_event", (), "bad_message"),
    "my_event without data": ("my_event", ({"secret": SECRET},), "bad_data"),
    "my_event with an object as data": ("my_event", ({"data": {"x": SECRET}},), "bad_data"),
    "my_event with a list as data": ("my_event", ({"data": [SECRET]},), "bad_data"),
    "my_event with null data": ("my_event", ({"data": None, "s": SECRET},), "bad_data"),
    "my_event with a boolean as data": ("my_event", ({"data": True, "s": SECRET},), "bad_data"),
    "my_broadcast_event with an object as data": (
        "my_broadcast_event", ({"data": {"x": SECRET}},), "bad_data"),
    "my_room_event with an array as data": (
        "my_room_event", ({"room": "r", "data": [SECRET]},), "bad_data"),
    "join with a list instead of an object": ("join", ([SECRET],), "bad_message"),
    "an unknown event": ("no_such_event", ({"data": SECRET},), "unknown_event"),
    "a message over max_message_bytes": ("my_event", ({"data": SECRET + "y" * 70_000},),
                                         "too_large"),
    "an unknown event over max_message_bytes": ("whatever", (SECRET + "y" * 70_000,),
                                                "too_large"),
}

Clients = Callable[..., RecordingClient]


def _check_rejected(
    server: PushsvcProcess, clients: Clients, transport: str,
    event: str, args: tuple[Any, ...], code: str,
) -> None:
    bystander = clients(transports=[transport]).connect(server.url)
    client = clients(transports=[transport]).connect(server.url)
    sid = client.sio.get_sid()

    ack = client.call(event, *args)
    assert ack["ok"] is False
    assert ack["event"] == event and ack["code"] == code
    assert ack["reason"] and SECRET not in ack["reason"]
    error = client.wait_for("error")
    assert error == {"event": event, "code": code, "reason": ack["reason"]}

    def log_lines() -> list[str]:
        return [line for line in server.read_log().splitlines() if f"from {sid}:" in line]

    lines = wait_until(log_lines, what="the rejection log line")
    assert len(lines) == 1 and f"rejected {event!r}" in lines[0] and code in lines[0]
    assert SECRET not in server.read_log()

    # The offender and everybody else keep working.
    assert client.call("my_event", {"data": "after"}) == {"ok": True}
    client.wait_for_reply("after")
    bystander.emit("my_event", {"data": "bystander"})
    bystander.wait_for_reply("bystander")


@pytest.mark.parametrize("event", ROOM_EVENTS)
@pytest.mark.parametrize("case", list(BAD_ROOMS))
def test_a_bad_room_is_refused_with_bad_room(
    server: PushsvcProcess, clients: Clients, event: str, case: str
) -> None:
    message = dict(BAD_ROOMS[case])
    if event == "my_room_event":
        message["data"] = "d"
    _check_rejected(server, clients, "websocket", event, (message,), "bad_room")


@pytest.mark.parametrize("case", list(BAD_MESSAGES))
def test_a_bad_message_is_refused_with_its_code(
    server: PushsvcProcess, clients: Clients, transport: str, case: str
) -> None:
    event, args, code = BAD_MESSAGES[case]
    _check_rejected(server, clients, transport, event, args, code)


def test_a_room_named_after_another_clients_session_id_is_refused(
    server: PushsvcProcess, clients: Clients
) -> None:
    victim = clients(transports=["websocket"]).connect(server.url)
    victim_sid = victim.sio.get_sid()
    attacker = clients(transports=["websocket"]).connect(server.url)
    for event in ROOM_EVENTS:
        ack = attacker.call(event, {"room": victim_sid, "data": "spoof"})
        assert ack["code"] == "bad_room" and "reserved" in ack["reason"]
    victim.call("my_event", {"data": "mine"})
    victim.wait_for_reply("mine")
    assert "spoof" not in victim.replies()
