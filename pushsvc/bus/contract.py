"""The contract between the app and its bus: what /readyz, /internal/health and the SIGTERM
drain may ask of a client manager, named as a Protocol instead of ``getattr`` probes.

Both managers implement it: :class:`~pushsvc.bus.manager.KubernetesManager` and the
single-process :class:`~pushsvc.bus.memory.MemoryManager`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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


class DeliveryTap(Protocol):
    """What connection state recovery (pushsvc.recovery) asks of the Kubernetes manager.

    Installed as ``KubernetesManager.tap``; the bus never imports the recovery module.
    """

    def recoverable(self, event: str, namespace: str, callback: object) -> bool:
        """Does this emit travel through the bus, to be delivered in order with an offset?"""

    def observe(self, position: Position, message: dict[str, object], *, own: bool) -> bool:
        """See every bus message in delivery order; False: it is not for the clients."""
