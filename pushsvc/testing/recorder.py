"""``RecordingTransport``: the Events an Emitter would create, kept for a test — no API server.

A notifier's unit test wants to know what its code published, without an emulator process::

    recorder = RecordingTransport()
    em = recorder.emitter()              # Emitter(transport=recorder): no kubeconfig read
    em.notify("report_ready", {"id": 42}, to="finance")
    assert recorder.notifications() == [Notification("report_ready", {"id": 42}, to="finance")]

Everything in front of the transport is the real Emitter (the codec's size and depth limits,
batching, ``BatchError``), and each create is checked as the API server checks it (the
emulator's core/v1 Event validation: 422 Invalid; a name already held: 409 AlreadyExists),
raised the way the Kubernetes transport raises it, so the Emitter turns it into the same
:class:`~emitter.errors.ApiError` a cluster would give. What is held is decoded with the codec
the pods use (:func:`emitter.codec.decode_event`).

It holds at most ``max_events`` Events and ``max_bytes`` of their JSON; a create past either is
refused with :class:`RecordingFullError` (a ``PushError``: ``notify()`` raises it, a batch
raises it as the cause of its ``BatchError``) and counted in :attr:`RecordingTransport.refused`.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emitter.errors import PushError

if TYPE_CHECKING:
    import pytest

    from emitter.client import Emitter
    from emitter.model import Message

#: Defaults of :class:`RecordingTransport`'s bounds: far above a unit test's needs, far below
#: a leak that would take the test process down (a full Event is at most ~256 KiB).
DEFAULT_MAX_EVENTS = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class RecordingFullError(PushError):
    """The recorder already holds its ``max_events`` Events or ``max_bytes``; nothing of this
    Event was recorded."""


@dataclass(frozen=True)
class Notification:
    """One ``notify()`` as it was called: ``data`` as given (a tuple for several arguments,
    bytes restored), ``to`` the room(s) with a ``user=`` as its ``user:<sub>`` room."""

    event: str
    data: Any = None
    to: str | list[str] | None = None
    namespace: str = "/"
    skip_sid: str | list[str] | None = None


class RecordingTransport:
    """An :class:`emitter.transport.Transport` that keeps the Events instead of creating them.

    :param max_events: most Events held (default 10,000).
    :param max_bytes: most bytes of Event JSON held (default 64 MiB).
    """

    def __init__(self, *, max_events: int = DEFAULT_MAX_EVENTS,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_events < 1 or max_bytes < 1:
            raise ValueError("max_events and max_bytes must be at least 1")
        self.max_events = max_events
        self.max_bytes = max_bytes
        #: Creates refused because the recorder was full.
        self.refused = 0
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._names: set[tuple[str, str]] = set()
        self._bytes = 0

    # --- the transport ---------------------------------------------------------------
    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Check ``body`` as the API server would, then hold a copy of it."""
        text = json.dumps(body, separators=(",", ":"))  # what goes on the wire
        stored: dict[str, Any] = json.loads(text)
        name = str((stored.get("metadata") or {}).get("name") or "")
        _validate(stored, namespace)
        with self._lock:
            if (namespace, name) in self._names:
                raise _api_exception(409, f'events "{name}" already exists', "AlreadyExists")
            if len(self._events) >= self.max_events or self._bytes + len(text) > self.max_bytes:
                self.refused += 1
                raise RecordingFullError(
                    f"RecordingTransport is full: it holds {len(self._events):,} Events "
                    f"(max_events {self.max_events:,}) and {self._bytes:,} bytes (max_bytes "
                    f"{self.max_bytes:,}); Event {name} ({len(text):,} bytes) was not "
                    "recorded: clear() it between tests, or pass larger bounds")
            self._events.append(stored)
            self._names.add((namespace, name))
            self._bytes += len(text)

    # --- what a test reads -------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        """The Event bodies, in the order they were created (copies)."""
        with self._lock:
            return json.loads(json.dumps(self._events))

    def messages(self) -> list[Message]:
        """Every message of every Event, in order, decoded as the pods decode them (the same
        models as ``kube_api.messages()``: ``event``, ``data`` — a list of arguments —,
        ``room``, ``namespace``, ...; ``close_room()`` and ``disconnect()`` too)."""
        from emitter.codec import decode_event

        with self._lock:
            events = list(self._events)
        return [m for event in events for m in decode_event(event).messages]

    def notifications(self) -> list[Notification]:
        """The emits (``notify()`` calls) among :meth:`messages`, as they were called."""
        from emitter.model import EmitMessage

        return [_notification(m) for m in self.messages() if isinstance(m, EmitMessage)]

    def clear(self) -> None:
        """Forget every Event held (``refused`` keeps counting)."""
        with self._lock:
            self._events.clear()
            self._names.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    # --- an Emitter on it ---------------------------------------------------------------
    def emitter(self, **options: Any) -> Emitter:
        """``Emitter(transport=self, ...)``; ``bus_namespace`` defaults to ``pushsvc``."""
        from emitter.client import Emitter

        options.setdefault("bus_namespace", "pushsvc")
        return Emitter(transport=self, **options)

    def use_as_notifier(self, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Emitter:
        """Make ``emitter.notify()`` publish here for this test only (``monkeypatch`` undoes
        it); returns that Emitter. ``options`` as for :meth:`emitter`."""
        from emitter import client as emitter_client

        em = self.emitter(**options)
        monkeypatch.setattr(emitter_client, "_default", em)
        return em


def _validate(body: dict[str, Any], namespace: str) -> None:
    from pushsvc.testing.kubeapi import validation

    try:
        validation.validate_event(body, namespace)
    except validation.ApiError as exc:
        raise _api_exception(exc.code, exc.message, exc.reason, exc.status()) from exc


def _api_exception(status: int, message: str, reason: str,
                   body: dict[str, Any] | None = None) -> Exception:
    """The ``ApiException`` the Kubernetes transport raises for this reply."""
    from kubernetes.client.exceptions import ApiException

    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps(body or {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                   "status": "Failure", "message": message,
                                   "reason": reason, "code": status})
    exc.headers = {"Content-Type": "application/json"}
    return exc


def _notification(message: Any) -> Notification:
    from emitter.model import reconstruct_binary

    args: list[Any] = list(message.data)
    if message.binary:
        attachments = [base64.b64decode(a) for a in args[1:]]
        args = reconstruct_binary(args[0], attachments)
    data = args[0] if len(args) == 1 else tuple(args)
    return Notification(event=message.event, data=data, to=message.room,
                        namespace=message.namespace, skip_sid=message.skip_sid)


__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_EVENTS", "Notification", "RecordingFullError",
           "RecordingTransport"]
