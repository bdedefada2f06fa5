"""pushsvc's own exceptions, so notifiers catch one family and read an actionable message.

Kubernetes client errors are converted at the edge (``raise ... from exc``): the message says
what failed, where, and what to apply; the original ``ApiException`` stays in ``__cause__``.
"""

from __future__ import annotations


class PushError(Exception):
    """Base class of every error raised by :mod:`emitter`."""


class ConfigError(PushError):
    """No usable Kubernetes configuration, or a bad bus namespace / channel."""


class MessageError(PushError, ValueError):
    """The message itself is wrong (empty event name, bad room, non-JSON data); nothing was sent."""


class PayloadTooLargeError(MessageError):
    """The encoded payload exceeds the size limit; checked before any API call."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"payload is {size:,} bytes, over the limit of {limit:,} bytes "
            "(Kubernetes allows 256 KiB of annotations per Event); nothing was sent"
        )


class WireError(PushError, ValueError):
    """An Event body does not hold a valid pushsvc payload (receiving side)."""


class PayloadRefusedError(WireError):
    """A received payload too large or too deeply nested to parse; ``reason`` names which."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class SchemaVersionError(WireError):
    """The payload was written with a schema version this reader does not know."""


class ApiError(PushError):
    """The Kubernetes API refused or failed a request."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class PermissionDeniedError(ApiError):
    """HTTP 403: the ServiceAccount lacks a permission; the message names the rbac/ file."""


class AlreadyExistsError(ApiError):
    """HTTP 409 on a create: an Event of that name exists. With a chosen name (``publish(...,
    name=...)``) it means this very Event was already created, e.g. by another pod: sent once."""


class ApiUnavailableError(ApiError):
    """429 / 5xx / connection errors persisted until the retry deadline."""


class BatchError(PushError):
    """Some Events of a batch could not be created; the others were.

    :ivar failures: ``(event name, message count, error)`` for every Event that failed.
    :ivar failed_messages: how many messages were not sent.
    """

    def __init__(self, failures: list[tuple[str, int, PushError]], *, note: str = "") -> None:
        self.failures = failures
        self.failed_messages = sum(count for _, count, _ in failures)
        first = failures[0][2]
        super().__init__(
            f"{self.failed_messages} message(s) in {len(failures)} Event(s) were not sent"
            f"{note}; first error: {first}"
        )
        self.__cause__ = first
