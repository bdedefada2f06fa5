"""The presence service of one process: what server code asks, and the per-interval round.

Every ``presence_interval_seconds`` (with ±10 % jitter, so pods started together do not write
together) one background task reads this pod's room table, builds the bounded summary, writes
it into the pod's Lease (one API write per pod per interval, however many clients join or
leave), and derives the join/leave notices for the rooms matching ``presence_notice_rooms``
by comparing each room's merged members with the previous round's. Notices go only to this
pod's own members of the room (never through the bus): every pod derives the same notices from
the same summaries, so no message crosses pods and no Event is written for them.
"""

from __future__ import annotations

import logging
import random
import socket
import time
from typing import Any

from pushsvc.identity import USER_ROOM_PREFIX, Identity
from pushsvc.presence import metrics
from pushsvc.presence.leases import LeaseWatch, LeaseWriter
from pushsvc.presence.summary import Member, Summary, build
from pushsvc.presence.view import Answer, PresenceView, local_summary
from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

#: The event of join/leave notices to clients (and of their presence questions).
EVENT = "pushsvc_presence"
#: Lease durations, in intervals: a pod that dies drops out of answers within this many.
LEASE_INTERVALS = 3


class Presence:
    """Who is in a room, on every pod. Reach it with :func:`pushsvc.presence_of(app)
    <pushsvc.presence.presence_of>`.

    :param settings: the process's settings (``PUSHSVC_PRESENCE_*``).
    :param socketio: the Flask-SocketIO object (its server's room table, background tasks).
    :param identity: who each connection is (its token's ``sub``; None without JWT auth).
    :param pod: this pod's name as answers show it.
    """

    def __init__(self, *, settings: Settings, socketio: Any, identity: Identity,
                 pod: str) -> None:
        self.settings = settings
        self.socketio = socketio
        self.identity = identity
        self.pod = pod
        self.view = PresenceView(own_pod=pod)
        self.writer: LeaseWriter | None = None
        self.watch: LeaseWatch | None = None
        self.list_max = settings.presence_list_max
        self._since: dict[tuple[str, str], int] = {}
        self._previous: dict[str, frozenset[tuple[str, str | None, str]]] = {}
        self._stopping = False
        self._started = False
        self.rounds = 0

    # --- what server code asks ---------------------------------------------------------
    def presence(self, room: str) -> Answer:
        """Members of ``room`` on every live pod: a count, up to ``presence_list_max`` members
        (sid, user, pod, since), whether it is truncated, and each pod's summary age.

        :param room: any room, user rooms (``user:<sub>``) included.
        """
        return self.view.answer(room, self._local(room), list_max=self.list_max)

    def presence_count(self, room: str) -> int:
        """How many connections are in ``room`` on every live pod (see :meth:`presence`)."""
        return self.presence(room).count

    def is_online(self, sub: str) -> bool:
        """True when user ``sub`` has a connection on any live pod (JWT mode: its user room).

        False can be wrong only when a pod's summary was truncated; ask
        ``presence(user_room(sub)).truncated`` to know."""
        return self.presence_count(USER_ROOM_PREFIX + sub) > 0

    # --- this pod's table ----------------------------------------------------------------
    def _rooms(self, now: int, only: str | None = None
               ) -> dict[str, dict[str, tuple[str | None, int]]]:
        """This pod's named rooms as {room: {sid: (user, since)}}; ``only``: just that one."""
        server = self.socketio.server
        table = server.manager.rooms.get("/", {}) if server is not None else {}
        if only is not None:
            table = {only: table[only]} if only in table else {}
        out: dict[str, dict[str, tuple[str | None, int]]] = {}
        for room, sids in list(table.items()):
            if room is None or not isinstance(room, str) or room in sids:
                continue  # the all-clients room and each client's own sid room
            members: dict[str, tuple[str | None, int]] = {}
            for sid in list(sids):
                principal = self.identity.principal(sid)
                since = self._since.get((room, sid), now)
                members[sid] = (principal.sub if principal is not None else None, since)
            if members:
                out[room] = members
        return out

    def _local(self, room: str) -> Summary:
        """This pod's live members of ``room`` (a question reads one room, not the table)."""
        now = time.time()
        return local_summary(self.pod, self._rooms(int(now), only=room), now)

    # --- the round -------------------------------------------------------------------------
    def start(self) -> None:
        if self._started or not self.settings.presence:
            return
        self._started = True
        self.socketio.start_background_task(self._loop)
        if self.watch is not None:
            self.socketio.start_background_task(self.watch.run)

    def stop(self) -> None:
        """On shutdown: stop the round and the watch; empty this pod's Lease."""
        self._stopping = True
        if self.watch is not None:
            self.watch.stop()
        if self.writer is not None:
            _, empty = build(self.pod, {}, now=time.time(), max_rooms=0, max_members=0,
                             max_bytes=self.settings.presence_max_summary_bytes)
            self.writer.release(empty)

    def _loop(self) -> None:
        interval = self.settings.presence_interval_seconds
        while not self._stopping:
            try:
                self.round()
            except Exception:  # one bad round never ends presence
                logger.exception("presence: round failed")
            self.socketio.sleep(interval * random.uniform(0.9, 1.1))

    def round(self) -> Summary:
        """Summarise, write the Lease, send notices; returns the summary written."""
        now = time.time()
        rooms = self._rooms(int(now))
        self._since = {(room, sid): since for room, members in rooms.items()
                       for sid, (_user, since) in members.items()}
        summary, data = build(self.pod, rooms, now=now,
                              max_rooms=self.settings.presence_max_rooms,
                              max_members=self.settings.presence_max_members,
                              max_bytes=self.settings.presence_max_summary_bytes)
        metrics.summary_bytes.set(len(data))
        metrics.truncated.labels(kind="rooms").set(summary.dropped_rooms)
        metrics.truncated.labels(kind="members").set(summary.dropped_members)
        if self.writer is not None and not self._stopping:
            self.writer.write(data)
        live = self.view.live()
        metrics.pods_seen.labels(state="live").set(1 + len(live))
        metrics.pods_seen.labels(state="stale").set(self.view.stale())
        metrics.staleness.set(max((age for _, age in live), default=0.0))
        if self.settings.presence_notice_rooms:
            self._notices(local_summary(self.pod, rooms, now))
        self.rounds += 1
        return summary

    def _notices(self, local: Summary) -> None:
        patterns = tuple(self.settings.presence_notice_rooms)
        current: dict[str, frozenset[tuple[str, str | None, str]]] = {}
        for room in local.rooms:
            if not matches(room, patterns):
                continue
            answer = self.view.answer(room, local, list_max=self.settings.presence_max_members)
            members = frozenset((m.sid, m.user, m.pod) for m in answer.members)
            current[room] = members
            # A room this pod did not track last round (its first local member): everyone in
            # it is news to that member.
            before = self._previous.get(room, frozenset())
            if before == members:
                continue
            joined = [_public(m) for m in answer.members if (m.sid, m.user, m.pod) not in before]
            left = [{"user": user, "pod": pod} for sid, user, pod in sorted(
                before - members, key=lambda k: (k[2], k[0]))]
            self.socketio.emit(EVENT, {"type": "notice", "room": room, "count": answer.count,
                                       "joined": joined, "left": left,
                                       "truncated": answer.truncated},
                               to=room, ignore_queue=True)
            metrics.notices.inc()
        self._previous = current


def matches(room: str, patterns: tuple[str, ...]) -> bool:
    """A room name, or a prefix followed by ``*``, as the token claims' patterns are."""
    return any(room.startswith(p[:-1]) if p.endswith("*") else room == p for p in patterns)


def _public(member: Member) -> dict[str, Any]:
    return member.as_dict(with_sid=False)


def pod_name(settings: Settings) -> str:
    """The pod as answers name it: PUSHSVC_POD_NAME, else host:port (as pushsvc_info does)."""
    return settings.pod_name or f"{socket.gethostname()}:{settings.port}"
