"""The client's presence question: event ``pushsvc_presence`` ``{"room": ...}``, answered by ack.

Who may ask about which room:

- **JWT mode**: the token decides, like Centrifugo's presence permission: the ``presence``
  list in the ``pushsvc`` claim, exact names and ``prefix*`` patterns as ``rooms`` is read;
  a client may always ask about its own user room ``user:<sub>`` (its other tabs).
- **Other modes** (no auth, shared token): only rooms the client is in. Any client may join
  any room there, so this is no secret; it makes every presence read also a visible
  membership (counted in the rooms-per-client bound and in the room's join notices) and keeps
  a client from sweeping the names of rooms it never entered.

The answer is ``{"ok": true, "room", "count", "members": [{"user", "pod", "since"}],
"truncated", "pods": {pod: age}}`` — clients never get other clients' sids. A refusal is
``{"ok": false, "event", "code", "reason"}`` (codes ``forbidden``, ``bad_room``,
``rate_limited``), also sent as an ``error`` event, as the other handlers do.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import SocketIO
from flask_socketio import rooms as current_rooms

from pushsvc.identity import Identity
from pushsvc.presence import metrics
from pushsvc.presence.service import EVENT, Presence
from pushsvc.settings import Settings
from pushsvc.sio.budget import TokenBucket
from pushsvc.sio.packets import ProtocolError, check_size

logger = logging.getLogger(__name__)
_MAX_ROOM = 256


def register_presence_event(socketio: SocketIO, *, presence: Presence, identity: Identity,
                            settings: Settings) -> None:
    """Answer ``pushsvc_presence`` questions from clients on ``socketio``."""
    buckets: dict[str, TokenBucket] = {}

    def bucket_of(sid: str) -> TokenBucket:
        bucket = buckets.get(sid)
        if bucket is None:
            if len(buckets) > 2 * max(1, len(_connected(socketio))) + 100:
                live = set(_connected(socketio))
                for gone in [s for s in buckets if s not in live]:
                    del buckets[gone]
            bucket = buckets[sid] = TokenBucket(rate=settings.presence_client_queries_per_second,
                                                burst=settings.presence_client_queries_burst)
        return bucket

    def check(sid: str, message: Any) -> str:
        if not bucket_of(sid).take(1.0):
            raise ProtocolError("rate_limited", "more than "
                                f"{settings.presence_client_queries_per_second:g} presence "
                                "questions per second; slow down")
        check_size((message,), limit=settings.max_message_bytes)
        room = message.get("room") if isinstance(message, dict) else None
        if not isinstance(room, str) or not 0 < len(room) <= _MAX_ROOM:
            raise ProtocolError("bad_room", f"send {{'room': <name of 1 to {_MAX_ROOM} "
                                "characters>}")
        manager = socketio.server.manager if socketio.server is not None else None
        if room.startswith("pushsvc:") or (manager is not None
                                           and manager.is_connected(room, "/")):
            raise ProtocolError("bad_room", "session ids and 'pushsvc:' rooms have no presence")
        principal = identity.principal(sid)
        if identity.jwt:
            allowed = principal is not None and (
                room == principal.room or principal.permissions.may_see_presence(room))
            if not allowed:
                raise ProtocolError("forbidden", "your token does not allow you to see who is "
                                    "in this room")
        elif room not in current_rooms():
            raise ProtocolError("forbidden", "join the room to see who is in it")
        return room

    def on_presence(message: Any = None, *_rest: Any) -> dict[str, Any]:
        sid = str(request.sid)  # type: ignore[attr-defined]
        try:
            room = check(sid, message)
        except ProtocolError as err:
            metrics.queries.labels(outcome=err.code).inc()
            payload = err.as_payload(EVENT)
            socketio.emit("error", payload, to=sid, ignore_queue=True)
            return {"ok": False, **payload}
        metrics.queries.labels(outcome="ok").inc()
        return {"ok": True, **presence.presence(room).as_dict(with_sid=False)}

    socketio.on_event(EVENT, on_presence)


def _connected(socketio: SocketIO) -> list[str]:
    server = socketio.server
    if server is None:
        return []
    return [sid for sid, _ in server.manager.get_participants("/", None)]
