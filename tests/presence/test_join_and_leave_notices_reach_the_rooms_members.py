"""With PUSHSVC_PRESENCE_NOTICE_ROOMS=team-*, members of a matching room get a
``pushsvc_presence`` notice when members on any pod joined or left (one per interval, derived
from the summaries); members of other rooms get none."""

from __future__ import annotations

from typing import Any

from tests.presence.conftest import Connect, join, leave
from tests.support.sio_client import RecordingClient


def _notices(client: RecordingClient, room: str) -> list[dict[str, Any]]:
    return [p for p in client.received("pushsvc_presence")
            if isinstance(p, dict) and p.get("type") == "notice" and p.get("room") == room]


def test_a_member_on_one_pod_hears_of_joins_and_leaves_on_another(
        presence_client: Connect) -> None:
    jane = presence_client(0, "jane", rooms=("team-notice", "other-notice"))
    kate = presence_client(2, "kate")
    # A room's first notice on a pod lists everyone in it: jane hears of herself first.
    first = jane.wait_for("pushsvc_presence", lambda p: p.get("room") == "team-notice",
                          timeout=30)
    assert [m["user"] for m in first["joined"]] == ["jane"] and first["count"] == 1
    join(kate, "other-notice")
    join(kate, "team-notice")
    joined = jane.wait_for("pushsvc_presence", lambda p: p.get("room") == "team-notice"
                           and ["kate"] == [m["user"] for m in p["joined"]], timeout=30)
    assert joined["count"] == 2 and joined["left"] == []
    assert {"user": "kate", "pod": "pushsvc-2"}.items() <= joined["joined"][0].items()

    leave(kate, "team-notice")
    left = jane.wait_for("pushsvc_presence", lambda p: p.get("room") == "team-notice"
                         and p["left"] == [{"user": "kate", "pod": "pushsvc-2"}], timeout=30)
    assert left["count"] == 1 and left["joined"] == []
    assert _notices(jane, "other-notice") == []  # not a notice room
    # kate's own first notice of the room named both of them
    assert any({m["user"] for m in n["joined"]} == {"jane", "kate"}
               for n in _notices(kate, "team-notice"))
