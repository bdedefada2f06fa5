"""One client can be in at most PUSHSVC_MAX_ROOMS_PER_CLIENT rooms, and the reply stays short.

Before the fix, rooms per client had no cap and every join/leave reply listed all of the
client's rooms: a client that never read grew the server by gigabytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc
from tests.support.probes import metric

MAX_ROOMS = 25
Clients = Callable[..., RecordingClient]


@pytest.fixture(scope="module")
def capped(server_logs: Path) -> Iterator[PushsvcProcess]:
    env = {"PUSHSVC_MAX_ROOMS_PER_CLIENT": str(MAX_ROOMS), "PUSHSVC_CLIENT_EVENTS_BURST": "100"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        yield proc




def test_a_join_past_the_cap_is_refused_with_too_many_rooms(
    capped: PushsvcProcess, clients: Clients
) -> None:
    client = clients(transports=["websocket"]).connect(capped.url)
    sid = client.sio.get_sid()
    rooms = [f"room-{n:03d}" for n in range(MAX_ROOMS)]
    for room in rooms:
        assert client.call("join", {"room": room}) == {"ok": True}
    for _ in range(3):
        ack = client.call("join", {"room": "one-too-many"})
        assert ack["ok"] is False and ack["code"] == "too_many_rooms"
        assert f"the limit is {MAX_ROOMS}" in ack["reason"]
    assert client.wait_for("error")["code"] == "too_many_rooms"
    assert client.call("join", {"room": rooms[0]}) == {"ok": True}  # already in: no new room

    # Leaving one makes room for another.
    assert client.call("leave", {"room": rooms[0]}) == {"ok": True}
    assert client.call("join", {"room": "one-too-many"}) == {"ok": True}
    assert metric(capped.url, "pushsvc_rejected_messages_total", code="too_many_rooms") == 3
    lines = [line for line in capped.read_log().splitlines()
             if sid in line and "too_many_rooms" in line]
    assert len(lines) == 1  # one line per client and kind of breach, not per message


def test_the_rooms_reply_lists_at_most_twenty_rooms(capped: PushsvcProcess, clients: Clients
                                                    ) -> None:
    client = clients(transports=["websocket"]).connect(capped.url)
    rooms = [f"r-{n:03d}" for n in range(MAX_ROOMS)]
    for room in rooms:
        client.call("join", {"room": room})
    expected = "In rooms: " + ", ".join(rooms[:20]) + f" (+{MAX_ROOMS - 20} more)"
    client.wait_for_reply(expected)
    client.call("leave", {"room": rooms[-1]})
    client.wait_for_reply("In rooms: " + ", ".join(rooms[:20]) + f" (+{MAX_ROOMS - 21} more)")
