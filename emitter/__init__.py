"""pushsvc's notifier library: push Socket.IO messages to every pushsvc pod via core/v1 Events.

>>> import emitter
>>> emitter.notify("job_done", {"id": 42}, to="team-a")
>>> em = emitter.Emitter(bus_namespace="pushsvc")
>>> with em.batch():  # one Event for up to 50 notifications
...     for row in rows:
...         em.notify("row_done", row, to="team-a")

Depends on ``kubernetes`` and ``pydantic`` only (no Flask, no gevent).
"""

from __future__ import annotations

from emitter.client import Emitter, default_emitter, notify
from emitter.codec import (
    CHANNEL_LABEL,
    DEFAULT_MAX_PAYLOAD_BYTES,
    PAYLOAD_ANNOTATION,
    REASON,
    decode_event,
    encode_event,
)
from emitter.errors import (
    AlreadyExistsError,
    ApiError,
    ApiUnavailableError,
    BatchError,
    ConfigError,
    MessageError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PushError,
    SchemaVersionError,
    WireError,
)
from emitter.model import SCHEMA_VERSION, Envelope, Message
from emitter.transport import KubernetesTransport, Transport

#: The same as ``pushsvc.__version__`` (the one the package metadata reads; a test keeps them
#: equal): the notifier library may not import the server package.
__version__ = "0.1.0"

__all__ = [
    "CHANNEL_LABEL",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "PAYLOAD_ANNOTATION",
    "REASON",
    "SCHEMA_VERSION",
    "AlreadyExistsError",
    "ApiError",
    "ApiUnavailableError",
    "BatchError",
    "ConfigError",
    "Emitter",
    "Envelope",
    "KubernetesTransport",
    "Message",
    "MessageError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PushError",
    "SchemaVersionError",
    "Transport",
    "WireError",
    "__version__",
    "decode_event",
    "default_emitter",
    "encode_event",
    "notify",
]
