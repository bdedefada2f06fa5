"""Validation of the classic demo protocol's client messages.

Pure functions, no Flask or gevent: each either returns the clean value or
raises ``ProtocolError`` with a code and a reason meant for the client. Reasons
never quote what the client sent (it knows), so they are also safe to log.

The error a client receives (as the ``error`` event and as the ack value) is::

    {"event": "join", "code": "bad_room", "reason": "room must be ..."}
"""

from __future__ import annotations

import json
from typing import Any

MAX_ROOM_CHARS = 128


class ProtocolError(ValueError):
    """A client message that the server refuses; ``code`` is stable, ``reason`` is for humans."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def as_payload(self, event: str) -> dict[str, str]:
        return {"event": event, "code": self.code, "reason": self.reason}


def require_object(message: Any, *, shape: str) -> dict[str, Any]:
    """The message must be a JSON object (a dict); ``shape`` describes the expected one."""
    if not isinstance(message, dict):
        raise ProtocolError("bad_message", f"expected an object {shape}, got {_type_name(message)}")
    return message


def require_room(message: dict[str, Any]) -> str:
    """``message["room"]`` must be a non-empty string of at most MAX_ROOM_CHARS characters."""
    if "room" not in message:
        raise ProtocolError("bad_room", "missing 'room'")
    room = message["room"]
    if not isinstance(room, str):
        raise ProtocolError("bad_room", f"'room' must be a string, got {_type_name(room)}")
    if not room.strip():
        raise ProtocolError("bad_room", "'room' must not be empty")
    if len(room) > MAX_ROOM_CHARS:
        raise ProtocolError(
            "bad_room", f"'room' is {len(room)} characters; the limit is {MAX_ROOM_CHARS}"
        )
    return room


def require_data(message: dict[str, Any]) -> str | int | float:
    """``message["data"]`` must be a string or a number (what the demo forms send)."""
    if "data" not in message:
        raise ProtocolError("bad_data", "missing 'data'")
    data = message["data"]
    if isinstance(data, bool) or not isinstance(data, str | int | float):
        raise ProtocolError(
            "bad_data", f"'data' must be a string or a number, got {_type_name(data)}"
        )
    return data


def check_size(args: tuple[Any, ...], *, limit: int) -> None:
    """Refuse arguments whose JSON encoding is over ``limit`` bytes (binary counted raw)."""
    size = encoded_size(args)
    if size > limit:
        raise ProtocolError("too_large", f"message is {size} bytes; the limit is {limit}")


def encoded_size(value: Any) -> int:
    """Approximate wire size of a Socket.IO event's arguments, in bytes."""
    binary = 0

    def _default(obj: object) -> object:
        nonlocal binary
        if isinstance(obj, bytes | bytearray | memoryview):
            binary += len(obj)
            return None
        return str(obj)

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default)
    return len(text.encode("utf-8")) + binary


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, bytes | bytearray):
        return "binary"
    return type(value).__name__
