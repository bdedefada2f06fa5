"""The wire model: python-socketio's PubSubManager messages, validated with pydantic.

Each message mirrors the dict ``socketio.PubSubManager`` builds (``method`` plus its fields and
the publishing ``host_id``), so a message read from an Event can be handed to the manager as
``model_dump()`` unchanged. An :class:`Envelope` carries a schema version and a *list* of
messages, so a later release can pack a burst into one Event without a new contract.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from emitter.errors import MessageError

#: Bump when a reader of the previous version could not understand a payload.
SCHEMA_VERSION = 1

_MAX_NAME = 1024  # event names, rooms and sids: generous, but not a payload in disguise
#: The room of all of one user's connections, on every pod: ``user:<sub>`` (the token's
#: subject). Servers put each authenticated client in it; clients can never join it.
USER_ROOM_PREFIX = "user:"


def _check_name(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what} must be a non-empty string")
    if len(value) > _MAX_NAME:
        raise ValueError(f"{what} is {len(value)} characters; the limit is {_MAX_NAME}")
    return value


def _check_room(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _check_name(value, "room")
    if isinstance(value, list) and value and all(isinstance(r, str) for r in value):
        return [_check_name(r, "room") for r in value]
    raise ValueError("room must be None, a non-empty string or a non-empty list of strings")


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    namespace: str = "/"
    host_id: str = Field(min_length=1)


class EmitMessage(_Message):
    """``Server.emit`` to a room, a sid, a list of rooms, or everyone (``room=None``)."""

    method: Literal["emit"] = "emit"
    event: str
    #: The emit's arguments, as PubSubManager sends them: a list; binary parts are base64
    #: attachments after the placeholder-bearing first element when ``binary`` is true.
    data: list[Any]
    binary: bool = False
    room: str | list[str] | None = None
    skip_sid: str | list[str] | None = None
    #: (room, namespace, ack id) when the emitting pod wants the client's acknowledgement back.
    callback: tuple[str, str, int] | None = None

    @field_validator("event")
    @classmethod
    def _event_named(cls, value: str) -> str:
        return _check_name(value, "event name")

    @field_validator("room", mode="before")
    @classmethod
    def _room_valid(cls, value: Any) -> Any:
        return _check_room(value)


class EnterRoomMessage(_Message):
    method: Literal["enter_room"] = "enter_room"
    sid: str
    room: str


class LeaveRoomMessage(_Message):
    method: Literal["leave_room"] = "leave_room"
    sid: str
    room: str


class CloseRoomMessage(_Message):
    method: Literal["close_room"] = "close_room"
    room: str

    @field_validator("room")
    @classmethod
    def _room_named(cls, value: str) -> str:
        return _check_name(value, "room")


class DisconnectMessage(_Message):
    method: Literal["disconnect"] = "disconnect"
    sid: str

    @field_validator("sid")
    @classmethod
    def _sid_named(cls, value: str) -> str:
        return _check_name(value, "sid")


class CallbackMessage(_Message):
    """A client's acknowledgement, routed back to the pod whose ``host_id`` it names."""

    method: Literal["callback"] = "callback"
    sid: str
    id: int
    args: list[Any]


Message = Annotated[
    EmitMessage
    | EnterRoomMessage
    | LeaveRoomMessage
    | CloseRoomMessage
    | DisconnectMessage
    | CallbackMessage,
    Field(discriminator="method"),
]


class Envelope(BaseModel):
    """What one Event's payload annotation holds."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: int = SCHEMA_VERSION
    #: Wall-clock creation time (Unix seconds, sub-second); Event timestamps are whole seconds.
    ts: float = Field(default_factory=time.time)
    messages: list[Message] = Field(min_length=1)


def new_host_id() -> str:
    return uuid.uuid4().hex


def deconstruct_binary(data: Any, attachments: list[bytes]) -> Any:
    """Replace bytes by Socket.IO placeholders, as ``socketio.Packet.deconstruct_binary`` does."""
    if isinstance(data, bytes | bytearray):
        attachments.append(bytes(data))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(data, list | tuple):
        return [deconstruct_binary(item, attachments) for item in data]
    if isinstance(data, dict):
        return {key: deconstruct_binary(value, attachments) for key, value in data.items()}
    return data


def reconstruct_binary(data: Any, attachments: list[bytes]) -> Any:
    """The inverse of :func:`deconstruct_binary` (for notifiers' tests and tools)."""
    if isinstance(data, dict):
        if data.get("_placeholder") is True and "num" in data:
            return attachments[data["num"]]
        return {key: reconstruct_binary(value, attachments) for key, value in data.items()}
    if isinstance(data, list):
        return [reconstruct_binary(item, attachments) for item in data]
    return data


def user_rooms(room: str | list[str] | None, user: str | list[str] | None
               ) -> str | list[str] | None:
    """``room`` plus the user room of each of ``user`` (None = ``room`` unchanged).

    On the wire a user is only a room, ``user:<sub>``: nothing else in the contract changes.
    With ``user`` set and ``room`` None the message goes to those users only, not to everyone.
    """
    if user is None:
        return room
    users = [user] if isinstance(user, str) else user
    if not isinstance(users, list) or not users or not all(
        isinstance(u, str) and u for u in users
    ):
        raise MessageError("user must be a non-empty string or a non-empty list of them; "
                           "nothing was sent")
    rooms = [] if room is None else [room] if isinstance(room, str) else list(room)
    combined = rooms + [USER_ROOM_PREFIX + u for u in users]
    return combined[0] if len(combined) == 1 else combined


def emit_message(
    event: str,
    data: Any,
    *,
    host_id: str,
    room: str | list[str] | None = None,
    namespace: str = "/",
    skip_sid: str | list[str] | None = None,
    user: str | list[str] | None = None,
) -> EmitMessage:
    """Build an emit exactly as ``PubSubManager.emit`` would (tuple = several arguments).

    ``user`` adds the user room of each named user (see :func:`user_rooms`).
    Raises :class:`MessageError` for an empty event name, a bad room or data that is not JSON.
    """
    if not isinstance(event, str) or not event:
        raise MessageError("event name must be a non-empty string; nothing was sent")
    room = user_rooms(room, user)
    try:
        _check_room(room)
    except ValueError as exc:
        raise MessageError(f"bad room {room!r}: {exc}; nothing was sent") from exc
    if skip_sid is not None and not (
        isinstance(skip_sid, str) or (isinstance(skip_sid, list) and all(
            isinstance(s, str) for s in skip_sid))
    ):
        raise MessageError("skip_sid must be None, a string or a list of strings")
    args = list(data) if isinstance(data, tuple) else [data]
    attachments: list[bytes] = []
    args = deconstruct_binary(args, attachments)
    binary = bool(attachments)
    if binary:
        args = [args, *[base64.b64encode(a).decode() for a in attachments]]
    try:
        json.dumps(args, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"data is not JSON-serialisable ({exc}); nothing was sent") from exc
    try:
        return EmitMessage(
            event=event,
            data=args,
            binary=binary,
            room=room,
            namespace=namespace or "/",
            skip_sid=skip_sid,
            host_id=host_id,
        )
    except ValueError as exc:
        raise MessageError(f"invalid message: {exc}; nothing was sent") from exc
