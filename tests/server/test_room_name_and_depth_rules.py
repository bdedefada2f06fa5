"""pushsvc.sio.packets's rules for room names, nesting depth and the rooms reply."""

from __future__ import annotations

import pytest

from pushsvc.sio.packets import (
    MAX_DEPTH,
    ProtocolError,
    check_depth,
    check_size,
    require_room,
    rooms_text,
)

pytestmark = pytest.mark.unit  # in process, whatever its folder


class _FakeEngineIO:
    """python-engineio's generate_id, without a server."""

    sequence_number = 0

    def generate_id(self) -> str:
        from engineio.base_server import BaseServer

        return str(BaseServer.generate_id(self))


@pytest.mark.parametrize("_", range(50))
def test_every_engineio_session_id_is_refused_as_a_room_name(_: int) -> None:
    sid = _FakeEngineIO().generate_id()
    with pytest.raises(ProtocolError, match="reserved for session ids") as err:
        require_room({"room": sid})
    assert err.value.code == "bad_room"


@pytest.mark.parametrize("room", ["user:alice", "pushsvc:anything"])
def test_reserved_prefixes_are_refused(room: str) -> None:
    with pytest.raises(ProtocolError, match="reserved for the server"):
        require_room({"room": room})


@pytest.mark.parametrize("room", ["lobby", "a" * 19, "a" * 21, "a" * 19 + ".", "users:x"])
def test_ordinary_names_pass(room: str) -> None:
    assert require_room({"room": room}) == room


def test_depth_is_checked_without_recursion() -> None:
    value: object = "leaf"
    for _ in range(100_000):
        value = [value]
    with pytest.raises(ProtocolError) as err:
        check_depth(value)
    assert err.value.code == "too_deep"


def test_the_deepest_allowed_value_passes() -> None:
    value: object = 1
    for _ in range(MAX_DEPTH):
        value = {"k": value}
    check_depth(value)
    check_size((value,), limit=10_000)
    with pytest.raises(ProtocolError):
        check_depth([value])


def test_the_rooms_reply_is_capped() -> None:
    assert rooms_text([]) == "In rooms: (none)"
    assert rooms_text(["b", "a"]) == "In rooms: a, b"
    names = [f"r{n:03d}" for n in range(100)]
    text = rooms_text(names)
    assert text.endswith(", r019 (+80 more)") and "r020" not in text
