"""The contract between the app and its bus: what /readyz, /internal/health and the SIGTERM
drain may ask of a client manager, named as a Protocol instead of ``getattr`` probes; and the
seam between the bus and connection state recovery (``Delivery``, ``DeliveryTap``,
``RecoveryBus``, ``DELIVERING``).

Both managers implement it: :class:`~pushsvc.bus.manager.KubernetesManager` and the
single-process :class:`~pushsvc.bus.memory.MemoryManager`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class BusHealth:
    """How cross-pod delivery is doing. Detailed: for metrics and the non-public endpoint only.

    ``degraded`` is true once the watch has been down longer than the grace period: this pod
    still serves its own clients, but messages from and to other pods do not flow.
    """

    backend: str
    watch_up: bool
    down_seconds: float
    degraded: bool
    cause: str = ""
    resource_version: str = ""
    namespace: str = ""
    channel: str = ""
    outbox_messages: int = 0
    outbox_bytes: int = 0


@runtime_checkable
class BusManager(Protocol):
    """What pushsvc needs from a Socket.IO client manager besides python-socketio's API."""

    def start(self) -> None:
        """Start receiving from the bus now, before the first client connects (idempotent)."""

    def health(self) -> BusHealth:
        """The bus's state; never makes the pod unready (readiness is about this pod)."""

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for queued messages to be published; True when none is
        left."""

    def shutdown(self, timeout: float) -> int:
        """Flush, then drop (count and log) what is still queued; return the number dropped."""


#: A message's place in the bus's global order: (its Event's resourceVersion, its index in the
#: Event). Connection state recovery sends it to clients as their offset.
Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One bus message as this pod delivers it, in the bus's order (one message of an Event;
    the watcher's ``Delivery`` is the whole Event).

    ``message`` is python-socketio's message dict (an emit's ``data`` without the offset);
    ``own``: this pod published it; ``recoverable``: an emit without an ack that reaches its
    clients with its offset as the last argument (``DeliveryTap.recoverable`` said so).
    """

    position: Position
    message: dict[str, Any]
    own: bool
    recoverable: bool

    @property
    def method(self) -> str:
        return str(self.message.get("method", ""))

    @property
    def namespace(self) -> str:
        return str(self.message.get("namespace") or "/")

    @property
    def event(self) -> str:
        return str(self.message.get("event", ""))

    @property
    def rooms(self) -> tuple[str, ...] | None:
        """The rooms (or sids) an emit goes to; None: every client of the namespace."""
        room = self.message.get("room")
        if room is None:
            return None
        return (room,) if isinstance(room, str) else tuple(r for r in room if isinstance(r, str))


#: The recoverable delivery whose emit this greenlet is running now (None for every other
#: send). The manager sets it around the emit of each recoverable bus message: PubSubManager
#: applies a message ``_listen`` yields in the listener's greenlet before it asks for the
#: next, and gevent gives each greenlet its own context, so a send from any other greenlet —
#: a handler's reply, a connect, the drain — reads None. A send reads its position here.
DELIVERING: ContextVar[Delivery | None] = ContextVar("pushsvc_bus_delivering", default=None)


class DeliveryTap(Protocol):
    """What the Kubernetes manager asks of connection state recovery (pushsvc.recovery).

    Attached with ``RecoveryBus.attach``; the bus never imports the recovery package.
    """

    def recoverable(self, event: str, namespace: str, callback: object) -> bool:
        """Does this emit travel through the bus, to be delivered in order with an offset?"""

    def observe(self, delivery: Delivery) -> bool:
        """Every bus message, in delivery order, before this pod applies it; False: it is not
        for the clients (not applied)."""


@runtime_checkable
class RecoveryBus(Protocol):
    """What connection state recovery asks of the bus (the Kubernetes manager has it)."""

    host_id: str

    def attach(self, tap: DeliveryTap, *, keep_namespace: str) -> None:
        """From now on every recoverable emit goes through the bus and reaches this pod's
        clients as a ``Delivery``, shown to ``tap`` first; messages to ``keep_namespace``
        outlast every other message in an overflowing outbox."""

    def start_position(self) -> Position | None:
        """Where this pod's deliveries start (the watch's list); None before it listed."""

    def publish(self, message: dict[str, Any]) -> None:
        """Queue one message for the bus (applied here only when it comes back)."""

    def publish_disconnect(self, sid: str, namespace: str) -> None:
        """End a local session when the bus brings this back, after what was sent to it
        before."""

    def listed_events(self) -> Iterator[list[dict[str, Any]]]:
        """The bus Events that exist now, page by page (raw objects, untrusted)."""
