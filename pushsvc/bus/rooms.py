"""A room index for python-socketio's managers: a client's rooms without scanning every room.

python-socketio keeps ``rooms[namespace][room] -> {sid: eio_sid}`` only, and every connected
client has a room of its own. ``get_rooms(sid)`` (Flask-SocketIO's ``rooms()``, used by the
demo's join/leave replies) and ``basic_disconnect(sid)`` scan all of them: O(clients) per
call, so n clients joining a room cost O(n²) (minutes for 10,000 in the bench, where
the index takes seconds). This mixin keeps the reverse index for named rooms
(the ``None`` room and the client's own sid room are implied) and answers both from it.

It relies on BaseManager's ``basic_*`` methods being the only writers of ``rooms``, as they
are in python-socketio 5.18 (pinned in pyproject.toml).
"""

from __future__ import annotations

from typing import Any

import socketio


class RoomIndexMixin:
    """Keeps ``{namespace: {sid: {room, ...}}}`` for named rooms beside BaseManager's ``rooms``."""

    rooms: dict[str, dict[Any, Any]]
    callbacks: dict[str, Any]
    pending_connect: dict[str, list[str]]
    pending_disconnect: dict[str, list[str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._named_rooms: dict[str, dict[str, set[str]]] = {}

    def basic_enter_room(self, sid: str, namespace: str, room: Any,
                         eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        if room is not None and room != sid:
            self._named_rooms.setdefault(namespace, {}).setdefault(sid, set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        by_sid = self._named_rooms.get(namespace)
        named = by_sid.get(sid) if by_sid else None
        if named is not None:
            named.discard(room)
            if not named:
                del by_sid[sid]  # type: ignore[union-attr]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        """The client's rooms, its own sid room included (as python-socketio returns them)."""
        if sid not in self.rooms.get(namespace, {}).get(sid, ()):
            return []
        return [sid, *self._named_rooms.get(namespace, {}).get(sid, ())]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        # BaseManager.basic_disconnect with the scan of every room replaced by the index.
        if namespace not in self.rooms:
            return
        for room in [*self._named_rooms.get(namespace, {}).get(sid, ()), sid, None]:
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]


class IndexedManager(RoomIndexMixin, socketio.Manager):
    """python-socketio's single-process manager with the room index (the memory bus)."""
