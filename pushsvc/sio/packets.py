"""Validation of client messages: their shape, room names (pushsvc.rooms), depth and size.

Pure functions, no Flask or gevent: each either returns the clean value or
raises ``ProtocolError`` with a code and a reason meant for the client. Reasons
never quote what the client sent (it knows), so they are also safe to log.

The error a client receives (as the ``error`` event and as the ack value) is::

    {"event": "join", "code": "bad_room", "reason": "room must be ..."}
"""

from __future__ import annotations

import json
from typing import Any

from pushsvc.rooms import MAX_ROOM_CHARS, RESERVED_ROOM_PREFIXES, SID_SHAPED

#: Nesting depth of a client message's arguments (the demo's are 2 deep). Checked without
#: recursion before anything else walks the message (json.dumps would raise RecursionError).
MAX_DEPTH = 32
#: A join/leave reply lists at most this many rooms, then "(+N more)".
ROOMS_LISTED = 20


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
    if SID_SHAPED.fullmatch(room):
        raise ProtocolError(
            "bad_room",
            "room names of exactly 20 letters, digits, '_' or '-' are reserved for session "
            "ids; use another name (e.g. add a prefix)",
        )
    if room.startswith(RESERVED_ROOM_PREFIXES):
        raise ProtocolError(
            "bad_room",
            "room names starting with " + " or ".join(repr(p) for p in RESERVED_ROOM_PREFIXES)
            + " are reserved for the server",
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


def check_depth(value: Any, *, limit: int = MAX_DEPTH) -> None:
    """Refuse lists/objects nested more than ``limit`` deep, walking them without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= limit:
            raise ProtocolError("too_deep", f"message is nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def check_size(args: tuple[Any, ...], *, limit: int) -> None:
    """Refuse arguments nested too deep, or whose JSON encoding is over ``limit`` bytes
    (binary counted raw)."""
    for arg in args:
        check_depth(arg)
    try:
        size = encoded_size(args)
    except (RecursionError, ValueError) as exc:
        # ValueError: a circular reference, which JSON from a client cannot hold anyway.
        raise ProtocolError("bad_message", "message cannot be encoded as JSON") from exc
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


def rooms_text(names: list[str]) -> str:
    """The join/leave reply: the client's rooms, sorted, at most ROOMS_LISTED of them."""
    if not names:
        return "In rooms: (none)"
    shown = sorted(names)[:ROOMS_LISTED]
    more = len(names) - len(shown)
    return "In rooms: " + ", ".join(shown) + (f" (+{more} more)" if more else "")


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
