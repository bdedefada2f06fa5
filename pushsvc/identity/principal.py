"""Who a verified client is and what it may do: :class:`Principal` and :class:`Permissions`.

The token's ``sub`` names the user (every connection of it is in the room ``user:<sub>``);
the ``pushsvc`` claim lists the rooms it may join, publish to, close and see the presence of
(exact names or ``prefix*`` patterns). Refusals are :class:`AuthRefused` with a stable code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The room every connection of user ``sub`` is in: ``user:<sub>`` (reserved for clients).
USER_ROOM_PREFIX = "user:"
#: The claim holding pushsvc's room permissions.
PERMISSIONS_CLAIM = "pushsvc"
MAX_SUB_CHARS = 256
MAX_PATTERNS = 100

REFUSAL_CODES = (
    "token_missing", "token_expired", "token_invalid", "token_audience", "token_issuer",
    "token_not_yet_valid", "token_subject",
)


class AuthRefused(Exception):
    """A token (or its absence) that the server refuses; ``code`` is stable, ``reason`` is
    for humans and never contains the token."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _matches(room: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.endswith("*"):
            if room.startswith(pattern[:-1]):
                return True
        elif room == pattern:
            return True
    return False


@dataclass(frozen=True)
class Permissions:
    """What a client may do with rooms; ``unrestricted`` is the non-JWT modes' (today's rules
    and switches only)."""

    join: tuple[str, ...] = ()
    publish: tuple[str, ...] = ()
    close: tuple[str, ...] = ()
    broadcast: bool = False
    unrestricted: bool = False
    #: Rooms whose presence (who is in them, on every pod) the client may ask for.
    presence: tuple[str, ...] = ()

    def may_join(self, room: str) -> bool:
        return self.unrestricted or _matches(room, self.join)

    def may_publish(self, room: str) -> bool:
        return self.unrestricted or _matches(room, self.publish)

    def may_close(self, room: str) -> bool:
        return self.unrestricted or _matches(room, self.close)

    def may_see_presence(self, room: str) -> bool:
        """The token's ``presence`` patterns only (pushsvc.presence decides the non-JWT modes)."""
        return _matches(room, self.presence)

    @property
    def may_broadcast(self) -> bool:
        return self.unrestricted or self.broadcast

    def as_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {"rooms": list(self.join), "publish": list(self.publish),
                                 "close": list(self.close), "broadcast": self.broadcast}
        if self.presence:
            claim["presence"] = list(self.presence)
        return claim

    @classmethod
    def from_claim(cls, value: Any) -> Permissions:
        """Read the ``pushsvc`` claim; absent = the safe defaults; malformed = token_invalid."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise AuthRefused("token_invalid", f"the {PERMISSIONS_CLAIM!r} claim must be an "
                              "object")
        broadcast = value.get("broadcast", False)
        if not isinstance(broadcast, bool):
            raise AuthRefused("token_invalid", "'broadcast' in the token must be true or false")
        return cls(join=_patterns(value, "rooms"), publish=_patterns(value, "publish"),
                   close=_patterns(value, "close"), broadcast=broadcast,
                   presence=_patterns(value, "presence"))


UNRESTRICTED = Permissions(unrestricted=True)


def _patterns(claim: dict[str, Any], key: str) -> tuple[str, ...]:
    value = claim.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > MAX_PATTERNS or not all(
        isinstance(p, str) and 0 < len(p) <= 256 for p in value
    ):
        raise AuthRefused("token_invalid", f"{key!r} in the token must be a list of at most "
                          f"{MAX_PATTERNS} room names or prefix patterns ('job-*')")
    return tuple(value)


@dataclass(frozen=True)
class Principal:
    """A verified client: its subject, permissions and expiry (Unix seconds, None = none)."""

    sub: str
    permissions: Permissions = field(default_factory=Permissions)
    expires_at: float | None = None

    @property
    def room(self) -> str:
        return user_room(self.sub)

    def claims(self) -> dict[str, Any]:
        """The non-secret claims, safe to show or store (never the token)."""
        return {"sub": self.sub, "exp": self.expires_at,
                PERMISSIONS_CLAIM: self.permissions.as_claim()}


def user_room(sub: str) -> str:
    return USER_ROOM_PREFIX + sub


def principal_from(claims: Mapping[str, Any]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_CHARS or not sub.isprintable():
        raise AuthRefused("token_invalid", f"'sub' must be a printable string of 1-"
                          f"{MAX_SUB_CHARS} characters")
    exp = claims.get("exp")
    expires = float(exp) if isinstance(exp, int | float) and math.isfinite(exp) else None
    return Principal(sub=sub, permissions=Permissions.from_claim(claims.get(PERMISSIONS_CLAIM)),
                     expires_at=expires)


