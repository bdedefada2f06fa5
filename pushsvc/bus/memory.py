"""The one-process bus: python-socketio's Manager with pushsvc's room index, and the
:class:`~pushsvc.bus.contract.BusManager` contract (there is nothing to watch or publish)."""

from __future__ import annotations

from pushsvc.bus.contract import BusHealth
from pushsvc.bus.rooms import IndexedManager


class MemoryManager(IndexedManager):
    """Single-process client manager: clients of other processes are not reached."""

    def start(self) -> None:
        """Nothing to start: there is no bus."""

    def health(self) -> BusHealth:
        return BusHealth(backend="memory", watch_up=True, down_seconds=0.0, degraded=False)

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> int:
        return 0
