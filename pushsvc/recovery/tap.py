"""What recovery sees of the bus: every message in delivery order (the manager's tap)."""

from __future__ import annotations

import logging
import time
from typing import Any

from pushsvc.bus.contract import Position
from pushsvc.recovery.publisher import Publisher
from pushsvc.recovery.snapshot import (
    SNAPSHOT_EVENT,
    SNAPSHOT_NAMESPACE,
    offset_text,
    recoverable,
)

logger = logging.getLogger(__name__)


class Tap(Publisher):
    """The manager's DeliveryTap (pushsvc.bus.contract)."""

    # --- the manager's tap ------------------------------------------------------------
    def recoverable(self, event: str, namespace: str, callback: object) -> bool:
        return recoverable(event, namespace, callback)

    def observe(self, position: Position, message: dict[str, Any], *, own: bool) -> bool:
        if self._highest is not None and position < self._highest:
            self._out_of_order(position)
        elif self._highest is None or position > self._highest:
            self._highest = position
        if message.get("method") != "emit":
            return True
        namespace = message.get("namespace") or "/"
        if namespace == SNAPSHOT_NAMESPACE:
            if message.get("event") == SNAPSHOT_EVENT:
                self._apply_records(message.get("data"))
            return False
        if self.recoverable(message.get("event", ""), namespace, message.get("callback")):
            self.history.add(position, message, at=time.monotonic())
        return True

    def _out_of_order(self, position: Position) -> None:
        # A relist handed an older Event out after newer ones: a client of this pod may hold
        # an offset with a gap below it. Offsets below what was delivered so far are no longer
        # trusted for this pod's sessions.
        assert self._highest is not None
        if self.floor < self._highest:
            self.floor = self._highest
            logger.warning("recovery: this pod delivered bus position %s after %s; offsets of "
                           "its clients below %s no longer recover", offset_text(position),
                           offset_text(self._highest), offset_text(self._highest))
            for snapshot in self.local.values():
                snapshot.floor = self.floor
                self._dirty[snapshot.key] = snapshot
