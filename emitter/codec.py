"""The codec between an :class:`~emitter.model.Envelope` and a core/v1 Event body.

The wire contract (docs/bus.md, "Wire contract"): one Event per envelope, created without
``eventTime`` (so neither the 1024-character ``message`` limit nor the reporting fields apply);
a label names the channel (watches use a label selector and never see kubelet events); a fixed
``reason`` makes ``kubectl get events --field-selector reason=PushsvcMessage`` show the bus; the
``message`` is a human summary, never the payload; the payload is the envelope's JSON in one
annotation.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from array import array
from collections import Counter
from itertools import accumulate
from typing import Any

import pydantic_core
from pydantic import ValidationError

from emitter.errors import (
    MessageError,
    PayloadRefusedError,
    PayloadTooLargeError,
    SchemaVersionError,
    WireError,
)
from emitter.model import SCHEMA_VERSION, EmitMessage, Envelope, Message

CHANNEL_LABEL = "pushsvc.io/channel"
PAYLOAD_ANNOTATION = "pushsvc.io/payload"
REASON = "PushsvcMessage"
SOURCE_COMPONENT = "pushsvc"
#: Annotations may total 256 KiB per object; keep room for the key and the API server's own.
DEFAULT_MAX_PAYLOAD_BYTES = 250 * 1024
HARD_MAX_PAYLOAD_BYTES = 256 * 1024 - 1024
#: Messages one Event may carry. pushsvc pods pack at most this many (their publisher's burst
#: cap) and the emitter's batches keep to it, so no reader meets a longer envelope.
MAX_MESSAGES_PER_EVENT = 50
#: Bytes of an envelope's JSON besides its messages and the commas between them:
#: ``{"v":1,"ts":<float>,"messages":[...]}`` with room to spare for the timestamp.
ENVELOPE_OVERHEAD_BYTES = 64
#: Deepest nesting of arrays and objects in a payload (the envelope itself takes 4 levels).
#: Readers refuse deeper payloads before parsing them; writers refuse them before any call.
MAX_PAYLOAD_DEPTH = 100

_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)$")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def check_channel(channel: str) -> str:
    """A channel is a label value: at most 63 characters, alphanumerics and ``-_.``."""
    if not _LABEL_VALUE.match(channel or ""):
        raise ValueError(
            f"bus channel {channel!r} is not a valid label value "
            "(1-63 characters: letters, digits, '-', '_', '.'; alphanumeric at both ends)"
        )
    return channel


def label_selector(channel: str) -> str:
    return f"{CHANNEL_LABEL}={channel}"


def encode_payload(envelope: Envelope) -> str:
    return envelope.model_dump_json(exclude_defaults=False)


def check_size(payload: str, limit: int = DEFAULT_MAX_PAYLOAD_BYTES) -> int:
    size = len(payload.encode("utf-8"))
    if size > limit:
        raise PayloadTooLargeError(size, limit)
    return size


# Escapes first (an escaped quote or bracket is not structure), then strings — with no
# escape left a string is '"[^"]*"', which the regex engine matches in linear time (the
# escape-aware form rescans the rest of the text from every escaped quote: a 16 KB payload
# of \" took 1.6 s) — then everything but brackets.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = str.maketrans({"[": "\x01", "{": "\x01", "]": "\xff", "}": "\xff"})


@functools.cache
def _opener_run(limit: int) -> re.Pattern[str]:
    return re.compile(r"[\[{]{" + str(limit + 1) + "}")


def json_depth_exceeds(text: str | bytes, limit: int = MAX_PAYLOAD_DEPTH) -> bool:
    """True when ``text`` nests arrays/objects deeper than ``limit``, found without parsing.

    A parser recurses once per level (``json.loads`` raises ``RecursionError`` at ~1,000); this
    scan does not, and has no Python loop per character. The common case — fewer opening
    brackets than the limit — costs two ``str.count`` calls; otherwise three regex passes
    leave only brackets, a run of openers longer than the limit (the usual attack) answers at
    once, and the depth is the largest running sum of +1/-1 (``itertools.accumulate`` over a
    byte array, in C). Used for bus Events here and for client packets by the server.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    if _opener_run(limit).search(brackets):
        return True
    steps = array("b", brackets.translate(_STEP).encode("latin-1"))
    return max(accumulate(steps), default=0) > limit


def summary(envelope: Envelope, size: int) -> str:
    """One readable line for ``kubectl get events``: what, to whom, how big — never the data."""
    parts: list[str] = []
    for msg in envelope.messages:
        if isinstance(msg, EmitMessage):
            target = (
                "everyone" if msg.room is None
                else f"room {msg.room!r}" if isinstance(msg.room, str)
                else f"rooms {', '.join(msg.room)}"
            )
            ns = "" if msg.namespace == "/" else f" [{msg.namespace}]"
            parts.append(f"emit {msg.event!r} to {target}{ns}")
        elif msg.method in ("enter_room", "leave_room", "close_room"):
            parts.append(f"{msg.method} {getattr(msg, 'room', '')!r}")
        else:
            parts.append(msg.method)
    if len(parts) == 1:
        text = parts[0]
    else:
        counted = Counter(parts)
        text = f"{len(parts)} messages: " + "; ".join(
            p if n == 1 else f"{p} x{n}" for p, n in counted.most_common(3)
        )
    return f"{text} ({size:,} bytes)"[:900]


def _name_prefix(envelope: Envelope) -> str:
    return name_prefix_for(envelope.messages[0])


def name_prefix_for(first: Message) -> str:
    """The readable part of an Event name: ``pushsvc-<first message's event or method>-``."""
    word = first.event if isinstance(first, EmitMessage) else first.method
    word = _NOT_DNS.sub("-", word.lower()).strip("-")[:30] or "msg"
    return f"pushsvc-{word}-"


def event_name(envelope: Envelope) -> str:
    """A readable, client-chosen unique name (docs/bus.md says why not ``generateName``)."""
    return _name_prefix(envelope) + uuid.uuid4().hex[:16]


def event_name_for(first: Message) -> str:
    """The name of an Event whose first message is ``first`` (batches name it up front)."""
    return name_prefix_for(first) + uuid.uuid4().hex[:16]


def encode_event(
    envelope: Envelope,
    *,
    namespace: str,
    channel: str,
    involved_object: dict[str, str],
    name: str | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> dict[str, Any]:
    """Build the Event body; raises :class:`PayloadTooLargeError` before anything is sent."""
    payload = encode_payload(envelope)
    size = check_size(payload, max_payload_bytes)
    if json_depth_exceeds(payload):
        raise MessageError(f"payload nests deeper than {MAX_PAYLOAD_DEPTH} levels of arrays "
                           "and objects; pushsvc readers skip it, so nothing was sent")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name or event_name(envelope),
            "namespace": namespace,
            "labels": {CHANNEL_LABEL: channel},
            "annotations": {PAYLOAD_ANNOTATION: payload},
        },
        # The API server requires involvedObject.namespace == the Event's namespace.
        "involvedObject": {**involved_object, "namespace": namespace},
        "reason": REASON,
        "message": summary(envelope, size),
        "type": "Normal",
        "source": {"component": SOURCE_COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def decode_payload(payload: str | bytes) -> Envelope:
    """Validate an annotation value; raises :class:`WireError` or :class:`SchemaVersionError`.

    The payload is untrusted (anyone with ``create`` on events writes one): its size and
    nesting depth are checked before any parser sees it.
    """
    size = len(payload) if isinstance(payload, bytes) else len(payload.encode("utf-8"))
    if size > HARD_MAX_PAYLOAD_BYTES:
        raise PayloadRefusedError(f"payload is {size:,} bytes, over {HARD_MAX_PAYLOAD_BYTES:,}",
                                  reason="too_large")
    if json_depth_exceeds(payload):
        raise PayloadRefusedError(f"payload nests deeper than {MAX_PAYLOAD_DEPTH} levels",
                                  reason="too_deep")
    try:
        envelope = Envelope.model_validate_json(payload)
    except ValidationError as exc:
        version = _peek_version(payload)
        if version is not None and version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"payload schema version {version} is not supported (this reader knows "
                f"{SCHEMA_VERSION})"
            ) from exc
        raise WireError(f"invalid payload: {exc.error_count()} error(s), first: "
                        f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from exc
    if envelope.v != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"payload schema version {envelope.v} is not supported (this reader knows "
            f"{SCHEMA_VERSION})"
        )
    return envelope


def decode_event(event: dict[str, Any]) -> Envelope:
    """Read the envelope out of an Event object (a parsed JSON dict)."""
    metadata = event.get("metadata") or {}
    payload = (metadata.get("annotations") or {}).get(PAYLOAD_ANNOTATION)
    if not isinstance(payload, str):
        raise WireError(f"Event has no {PAYLOAD_ANNOTATION} annotation")
    return decode_payload(payload)


def _peek_version(payload: str | bytes) -> int | None:
    try:
        value = pydantic_core.from_json(payload)
    except ValueError:
        return None
    version = value.get("v") if isinstance(value, dict) else None
    return version if isinstance(version, int) else None
