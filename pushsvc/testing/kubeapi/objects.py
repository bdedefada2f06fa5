"""What every stored kind shares: a change as a watch sees it, timestamps, serialization and
delete preconditions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .status import bad_request, precondition_failed

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


def decode_body(body: bytes, namespace: str, *, kind: str, api_version: str) -> dict[str, Any]:
    """The object of a create/update body, refused (400) as kube-apiserver's decoder refuses
    it: not JSON, not an object, another kind or version, metadata not an object, another
    namespace than the URL's. A missing or null ``metadata`` becomes ``{}``."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise bad_request(f"couldn't get version/kind; json parse error: {err}") from None
    if not isinstance(obj, dict):
        raise bad_request("couldn't get version/kind; json parse error: not an object")
    given_kind, version = obj.get("kind"), obj.get("apiVersion")
    if given_kind not in (None, "", kind) or version not in (None, "", api_version):
        raise bad_request(f"the API version in the data ({version}) does not match the "
                          f"expected API version ({api_version})" if given_kind == kind
                          else f'{kind} in version "v1" cannot be handled as a {given_kind}')
    meta = obj.get("metadata")
    if meta is None:
        obj["metadata"] = meta = {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise bad_request("the namespace of the provided object does not match the namespace "
                          "sent on the request")
    return obj
