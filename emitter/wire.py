"""The wire layer: the one contract notifiers and pods share, and its public face.

A bus message travels as a core/v1 Event. Writing one (``emitter.client``) and reading one
(``pushsvc.bus``'s watcher and manager) use the same five modules: ``model`` (the pydantic
envelope and PubSubManager messages), ``codec`` (Event body <-> envelope, size and depth
checks), ``rawhttp`` (raw calls to the API server), ``kube`` (backoff, retries, RBAC
messages) and ``errors``. The server imports them from here only (an import-linter contract
checks it), so what the pods rely on is this list and nothing else.
"""

from __future__ import annotations

from emitter.codec import (
    CHANNEL_LABEL,
    MAX_MESSAGES_PER_EVENT,
    decode_event,
    json_depth_exceeds,
    label_selector,
)
from emitter.errors import (
    AlreadyExistsError,
    ApiError,
    PayloadRefusedError,
    PayloadTooLargeError,
    PushError,
    SchemaVersionError,
    WireError,
)
from emitter.kube import (
    CONNECTION_ERRORS,
    RBAC_API,
    Backoff,
    events_path,
    forbidden_message,
    retry_after_seconds,
    status_message,
)
from emitter.model import EmitMessage, Envelope, Message
from emitter.rawhttp import raw_request

__all__ = [
    "AlreadyExistsError",
    "ApiError",
    "CHANNEL_LABEL",
    "CONNECTION_ERRORS",
    "MAX_MESSAGES_PER_EVENT",
    "RBAC_API",
    "Backoff",
    "EmitMessage",
    "Envelope",
    "Message",
    "PayloadRefusedError",
    "PayloadTooLargeError",
    "PushError",
    "SchemaVersionError",
    "WireError",
    "decode_event",
    "events_path",
    "forbidden_message",
    "json_depth_exceeds",
    "label_selector",
    "raw_request",
    "retry_after_seconds",
    "status_message",
]
