"""What recovery sees of the bus: every message in delivery order (the manager's tap)."""

from __future__ import annotations

import logging
import time

from pushsvc.bus.contract import Delivery, Position
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

    def observe(self, delivery: Delivery) -> bool:
        position = delivery.position
        if self.position is not None and position < self.position:
            self._out_of_order(position)
        elif self.position is None or position > self.position:
            self.position = position
        if delivery.method != "emit":
            return True
        if delivery.namespace == SNAPSHOT_NAMESPACE:
            if delivery.event == SNAPSHOT_EVENT:
                self._apply_records(delivery.message.get("data"))
            return False
        if delivery.recoverable:
            self.history.add(position, delivery.message, at=time.monotonic())
        return True

    def _out_of_order(self, position: Position) -> None:
        # A relist handed an older Event out after newer ones: a client of this pod may hold
        # an offset with a gap below it. Offsets below what was delivered so far are no longer
        # trusted for this pod's sessions.
        assert self.position is not None
        if self.floor < self.position:
            self.floor = self.position
            logger.warning("recovery: this pod delivered bus position %s after %s; offsets of "
                           "its clients below %s no longer recover", offset_text(position),
                           offset_text(self.position), offset_text(self.position))
            for snapshot in self.local.values():
                snapshot.floor = self.floor
                self._dirty[snapshot.key] = snapshot
