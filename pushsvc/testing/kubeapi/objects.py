"""What every stored kind shares: a change as a watch sees it, timestamps, serialization and
delete preconditions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .status import precondition_failed

#: apimachinery's utilrand alphabet, for generateName's five random characters.
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(slots=True)
class Change:
    """One write, as a watch sees it."""

    rv: int
    type: str
    obj: dict[str, Any]
    raw: bytes  # the object serialized with kind/apiVersion, as a watch sends it

    def line(self) -> bytes:
        return b'{"type":"' + self.type.encode() + b'","object":' + self.raw + b"}\n"


def now_rfc3339(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    text = text.replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def serialize(obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"kind": "Event", "apiVersion": "v1", **obj})


LEASE_GROUP = "coordination.k8s.io"
LEASE_API_VERSION = "coordination.k8s.io/v1"


def serialize_lease(obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"kind": "Lease", "apiVersion": LEASE_API_VERSION, **obj})


def check_preconditions(obj: dict[str, Any], preconditions: dict[str, Any] | None, *,
                        resource: str = "events", group: str = "") -> None:
    """DeleteOptions.preconditions: uid and/or resourceVersion must match, else 409."""
    if not preconditions:
        return
    meta = obj["metadata"]
    name = meta["name"]
    uid = preconditions.get("uid")
    if uid and uid != meta.get("uid"):
        raise precondition_failed(name, "UID", uid, meta.get("uid", ""), resource, group)
    rv = preconditions.get("resourceVersion")
    if rv and rv != meta.get("resourceVersion"):
        raise precondition_failed(name, "ResourceVersion", rv, meta.get("resourceVersion", ""),
                                  resource, group)
