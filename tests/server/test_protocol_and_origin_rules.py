"""Unit rules behind the error codes and the origin check (no server needed)."""

from __future__ import annotations

import pytest

from pushsvc.settings import Settings
from pushsvc.sio.packets import (
    MAX_ROOM_CHARS,
    ProtocolError,
    check_size,
    encoded_size,
    require_data,
    require_object,
    require_room,
)
from pushsvc.web.origins import OriginPolicy

pytestmark = pytest.mark.unit  # in process, whatever its folder


def test_a_room_of_exactly_the_limit_is_accepted() -> None:
    assert require_room({"room": "r" * MAX_ROOM_CHARS}) == "r" * MAX_ROOM_CHARS


@pytest.mark.parametrize("message", [{}, {"room": None}, {"room": ""}, {"room": "r" * 129}])
def test_a_bad_room_raises_bad_room(message: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as info:
        require_room(message)
    assert info.value.code == "bad_room"


@pytest.mark.parametrize("data", ["text", 0, 1.5, ""])
def test_strings_and_numbers_are_valid_data(data: object) -> None:
    assert require_data({"data": data}) == data


@pytest.mark.parametrize("value", [None, "x", 3, [1]])
def test_a_message_that_is_not_an_object_raises_bad_message(value: object) -> None:
    with pytest.raises(ProtocolError) as info:
        require_object(value, shape="{data}")
    assert info.value.code == "bad_message"


def test_binary_counts_towards_the_size() -> None:
    assert encoded_size(({"data": b"x" * 100},)) > 100
    with pytest.raises(ProtocolError, match="limit is 50"):
        check_size(({"data": b"x" * 100},), limit=50)


def test_the_own_origin_and_listed_origins_pass_and_others_are_refused() -> None:
    policy = OriginPolicy(["http://listed.example:8080"])
    environ = {"HTTP_HOST": "push.example:5000", "wsgi.url_scheme": "http"}
    assert policy("http://push.example:5000", environ)
    assert policy("http://listed.example:8080", environ)
    assert not policy("http://evil.example", environ)
    assert policy("https://push.example:5000", environ | {"HTTP_X_FORWARDED_PROTO": "https"})


@pytest.mark.parametrize("value", ["*", "http://a.example, *", "a.example"])
def test_wildcards_and_origins_without_a_scheme_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="PUSHSVC_CORS_ALLOWED_ORIGINS"):
        Settings(cors_allowed_origins=value)  # type: ignore[arg-type]
