"""Like Centrifugo's presence permission: the token's ``presence`` patterns (exact names and
``prefix*``) decide which rooms a client may ask about; its own user room always; any other
room is refused with code ``forbidden`` (ack and ``error`` event), and so are sid rooms."""

from __future__ import annotations

from tests.presence.conftest import Connect, ask, wait_for_answer


def test_the_presence_claim_allows_exact_names_and_prefixes_and_nothing_else(
        presence_client: Connect) -> None:
    presence_client(0, "gina", rooms=("report-7", "team-perm"))
    allowed = presence_client(1, "hank", presence=["report-7", "team-*"])
    denied = presence_client(2, "ivan", rooms=("report-7",), presence=["report-8"])

    # gina and ivan are in report-7 (ivan may not ask about it, but he is there).
    assert wait_for_answer(allowed, "report-7", lambda a: a["count"] == 2)["ok"] is True
    assert wait_for_answer(allowed, "team-perm", lambda a: a["count"] == 1)["ok"] is True

    refused = ask(denied, "report-7")  # a member, but the token does not name the room
    assert refused == {"ok": False, "event": "pushsvc_presence", "code": "forbidden",
                       "reason": "your token does not allow you to see who is in this room"}
    assert ask(allowed, "report-70")["code"] == "forbidden"
    assert ask(allowed, "user:gina")["code"] == "forbidden"
    assert denied.wait_for("error", lambda p: p.get("code") == "forbidden")
    assert ask(denied, "user:ivan")["ok"] is True  # its own tabs

    assert ask(allowed, "")["code"] == "bad_room"
    assert ask(allowed, "pushsvc:x")["code"] == "bad_room"
    assert ask(allowed, denied.sio.get_sid())["code"] in ("bad_room", "forbidden")
