"""What the bus watcher already delivered: a resourceVersion watermark plus a bounded UID set.

Zero loss and zero duplicates across relists rest on this: a relist hands out only what is not
in it, and an Event is marked before it is handed out.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class Delivered:
    """What was already delivered: a resourceVersion watermark plus a bounded set of UIDs.

    Bus Events are only ever created, so an Event's resourceVersion is its creation version.
    Everything at or below ``upto`` was delivered or existed before this pod started; the
    UID set covers what was delivered above it. The watch stream is ordered, so forgetting the
    oldest UID just raises the watermark to its version — the bound never turns into a replay
    of old Events at the next relist, however many Events the namespace holds. A relist is not
    ordered (items come in name order): while one runs (``hold``), forgetting a UID does not
    raise the watermark; the list's own version does once every page was handled. With opaque
    (non-numeric) versions the watermark is off and only the UIDs count.
    """

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.upto: int | None = None
        self.hold = False
        self._uids: OrderedDict[str, int | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._uids)

    def __contains__(self, obj: object) -> bool:
        if not isinstance(obj, dict):
            return False
        if uid_of(obj) in self._uids:
            return True
        version = numeric_version(obj)
        return self.upto is not None and version is not None and version <= self.upto

    def knows_uid(self, obj: dict[str, Any]) -> bool:
        return uid_of(obj) in self._uids

    def add(self, obj: dict[str, Any]) -> None:
        self._uids[uid_of(obj)] = numeric_version(obj)
        if len(self._uids) > self.maxlen:
            _, version = self._uids.popitem(last=False)
            if not self.hold and self.upto is not None and version is not None:
                self.upto = max(self.upto, version)

    def start(self, list_version: str) -> None:
        """At the first list: everything up to its version existed before this pod started."""
        self.upto = int(list_version) if list_version.isdigit() else None

    def listed(self, list_version: str) -> None:
        """After a list whose every page was handled: its version is the new watermark."""
        self.hold = False
        if not list_version.isdigit():
            return
        self.upto = max(self.upto or 0, int(list_version))
        # UIDs at or below the watermark are covered by it; keep only those above it (a
        # paginated list that is not a snapshot may hold an item newer than its version).
        self._uids = OrderedDict((u, v) for u, v in self._uids.items()
                                 if v is None or v > self.upto)

    def rewind(self, list_version: str) -> None:
        """The store's version went back (etcd restore): versions from before mean nothing.

        The watermark drops to the new list's version; remembered UIDs stay (UIDs are never
        reused, so they still stop a restored old Event from being delivered twice) but lose
        their versions, so forgetting one can never lift the watermark over new Events.
        """
        self.upto = int(list_version) if list_version.isdigit() else None
        self._uids = OrderedDict((u, None) for u in self._uids)


def uid_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ""
    return str(meta.get("uid") or meta.get("name") or "")


def numeric_version(obj: dict[str, Any]) -> int | None:
    meta = obj.get("metadata")
    version = str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""
    return int(version) if version.isdigit() and len(version) < 20 else None


def version_key(obj: dict[str, Any]) -> tuple[int, str]:
    version = numeric_version(obj)
    # resourceVersions are opaque; numeric ones sort numerically, anything else keeps order.
    return (version, "") if version is not None else (0, "")
