"""The connect decision: whether a reconnect is recovered (the plan, before the connect
handler runs) and, at the CONNECT reply, the recovered or the new session's snapshot."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import Any

from pushsvc import metrics
from pushsvc.bus.contract import Position
from pushsvc.identity import AuthRefused
from pushsvc.recovery.history import _Entry
from pushsvc.recovery.replay import Replay
from pushsvc.recovery.snapshot import _NONE, Snapshot, parse_offset, pid_key
from pushsvc.recovery.state import _Plan, _Who

logger = logging.getLogger(__name__)


class Decision(Replay):
    """The connect decision."""

    def _plan(self, auth: dict[str, Any], who: _Who | None) -> _Plan | None:
        result = self._decide(auth, who)
        if isinstance(result, str):
            metrics.recoveries.labels(result=result).inc()
            logger.info("recovery refused (%s): a new session instead", result)
            return None
        return result

    def _wait_ready(self, deadline: float) -> None:
        if self.ready:
            return
        if self._ready_event is None:
            self._ready_event = self.server.eio.create_event()
        self._ready_event.wait(max(0.0, deadline - time.monotonic()))

    def _identify(self, auth: Any, environ: Any) -> _Who | None:
        """(auth mode, sub, permissions) of a connect, as its connect handler will see it;
        None for a token the connect handler will refuse."""
        identity = self.identity
        expected = self.settings.auth_token
        if identity.mode == "token" and expected is not None:
            # The shared token, as the connect handler checks it: a pid without it must not
            # even make this pod drop the session's live connection (pre_connect does).
            given = auth.get("token") if isinstance(auth, dict) else None
            if not isinstance(given, str) or not hmac.compare_digest(
                    given.encode("utf-8", "surrogatepass"),
                    expected.get_secret_value().encode("utf-8", "surrogatepass")):
                return None
        try:
            principal = identity.authenticate(auth, environ)
        except AuthRefused:
            return None
        except Exception as exc:  # the connect handler refuses it too ("connection check failed")
            logger.warning("recovery: %s while checking a reconnect's token; a new session",
                           type(exc).__name__)
            return None
        return (identity.mode, None if principal is None else principal.sub,
                identity.permissions_of(principal))

    def _decide(self, auth: dict[str, Any], who: _Who | None) -> _Plan | str:
        pid = auth["pid"]
        wait_until = time.monotonic() + self.settings.recovery_catch_up_seconds
        self._wait_ready(wait_until)
        if not self.ready:
            return "behind"
        snapshot = self.sessions.get(pid_key(pid))
        if snapshot is None:
            return "unknown"
        if snapshot.state == "ended":
            return "ended"
        if self._expired(snapshot, time.time()):
            return "expired"
        # A session belongs to the token it was made with: the same auth mode and ``sub``, and
        # every room it gets back without the connect handler deciding it again is one the
        # claims allow now (a pid is no key to somebody else's session, nor to a room the
        # token no longer grants). The sid is restored before the connect handler runs, so
        # this is checked here, on the same auth data.
        if who is None:
            return "refused"
        mode, sub, permissions = who
        if snapshot.mode != mode or snapshot.user != sub:
            return "identity"
        if any(span[1] is None and room not in snapshot.connect_rooms
               and not permissions.may_join(room) for room, span in snapshot.rooms.items()):
            return "forbidden_room"
        offset = None
        if auth.get("offset") is not None:
            offset = parse_offset(auth.get("offset"))
            if offset is None:
                return "unknown"
        # Nothing from before the session: whatever offset the client sends ("0-0", an old
        # session's, a made-up one), what it missed starts at its connect position.
        base = snapshot.pos if offset is None else max(offset, snapshot.pos)
        if base < snapshot.floor:
            return "out_of_order"
        # An offset ahead of this pod's watch (the pod that sent it was a moment ahead) needs
        # no wait: the client has everything up to it, nothing is replayed, and live packets
        # up to it are dropped for this session (a made-up offset silences only its own).
        complete = self.history.complete_from
        if complete is None:
            return "history_gone"
        up_to_date = snapshot.last is None if offset is None else (
            snapshot.last is None or offset >= snapshot.last)
        boundary = max(base, snapshot.seen)
        if up_to_date and (complete <= boundary or self._complete_after(snapshot, boundary)):
            # Nothing was sent to it between its offset and the snapshot: only what came
            # after the snapshot can be missing (an idle client's old offset still works).
            start = max(base, complete)
        elif complete <= base:
            start = base
        else:
            return "history_gone"
        plan = _Plan(snapshot=snapshot, pid=pid, start=start, offset=offset)
        if len(self._missed(plan, self.position or start)) > \
                self.settings.recovery_max_missed_messages:
            return "too_many"
        return plan

    def _complete_after(self, snapshot: Snapshot, boundary: Position) -> bool:
        """Is every message after the snapshot's position here, though the history starts
        later (the oldest bus Event is younger than the snapshot: a quiet or new bus)?

        Yes when the start-up list read every Event, no bound dropped one since, and the
        snapshot is younger than the retention: an Event after it was made after it, and
        only Events older than the retention are ever deleted.
        """
        history = self.history
        return history.listed_all and (
            history.dropped_upto is None or history.dropped_upto <= boundary) and (
            snapshot.at > time.time() - self.settings.retention_seconds + 5.0)

    def _missed(self, plan: _Plan, upto: Position) -> list[_Entry]:
        return self.history.missed_by(plan.snapshot, plan.start, upto)
    def _connected(self, eio_sid: str, pkt: Any, send: Any) -> None:
        """The CONNECT reply: replay what was missed first, or start a new session."""
        sid = pkt.data["sid"]
        plan = self._recovering.pop(eio_sid, None)
        connect_pos = self._connect_pos.pop(eio_sid, None)
        auth = self._auth.pop(eio_sid, {})
        joined = self._joining.pop(sid, {})
        mode, user = self._owner(eio_sid, sid)
        upto = self._stand() or _NONE
        if plan is not None and plan.snapshot.sid == sid:
            plan.snapshot = self._as_reconnected(plan.snapshot, joined)
            missed = self._missed(plan, upto)
            complete = self.history.complete_from
            if complete is not None and complete <= plan.start:
                self._replay(eio_sid, missed, send)
                metrics.recovery_replayed.inc(len(missed))
                metrics.recoveries.labels(result="recovered").inc()
                skip = plan.offset or _NONE
                self._replayed[eio_sid] = (max(upto, skip), {entry.pos for entry in missed},
                                           skip)
                last = missed[-1].pos if missed else plan.offset
                if last is not None:
                    self._last_sent[eio_sid] = last
                old = plan.snapshot
                snapshot = Snapshot(
                    key=old.key, sid=sid, owner=self.bus.host_id, gen=old.gen + 1,
                    state="up", at=time.time(), pos=upto if plan.offset is None and last is None
                    else old.pos, seen=upto, last=last, floor=max(self.floor, _NONE),
                    rooms={r: s for r, s in old.rooms.items() if s[1] is None},
                    data=old.data, mode=old.mode, user=old.user,
                    connect_rooms=set(old.connect_rooms))
                self.local[sid] = snapshot
                self._write(snapshot)
                self._learn(snapshot)
                pkt.data = {"sid": sid, "pid": plan.pid}
                logger.info("recovered session %s: %d missed message(s) replayed", sid,
                            len(missed))
                return
            metrics.recoveries.labels(result="history_gone").inc()
        pid = secrets.token_urlsafe(18)
        start = connect_pos or upto
        # Every room it is in goes in its first snapshot: the user room and whatever the
        # connect handler joined (the snapshot did not exist when they did), and rooms a
        # recovery that could not finish had already restored.
        restored = plan.snapshot.rooms if plan is not None and plan.snapshot.sid == sid else {}
        rooms: dict[str, list[Position | None]] = {
            room: [upto, None] for room, span in restored.items()
            if span[1] is None and room not in joined}
        rooms.update({room: [at, None] for room, at in joined.items()})
        snapshot = Snapshot(
            key=pid_key(pid), sid=sid, owner=self.bus.host_id, gen=0, state="up",
            at=time.time(), pos=start, seen=start, last=None, floor=self.floor,
            rooms=rooms, data=auth, mode=mode, user=user, connect_rooms=set(joined))
        self.local[sid] = snapshot
        self._write(snapshot)
        pkt.data = {"sid": sid, "pid": pid}

    def _owner(self, eio_sid: str, sid: str) -> tuple[str, str | None]:
        """(auth mode, sub) of a connect being accepted: what the recovery check found, or
        the Principal the connect handler registered (the same check; no second token
        verification per connect), or — an app's own connect handler — the check itself."""
        who = self._who.get(eio_sid)
        if who is None:
            principal = self.identity.principal(sid)
            if principal is not None:
                return self.identity.mode, principal.sub
            if self.identity.jwt:
                who = self._identify(self._raw_auth.get(eio_sid),
                                     self.server.environ.get(eio_sid))
        return (who[0], who[1]) if who is not None else (self.identity.mode, None)

    def _as_reconnected(self, old: Snapshot, joined: dict[str, Position]) -> Snapshot:
        """The session as this reconnect restores it: its connect rooms are the ones the
        connect handler joined again (kept from when it first joined them, so what was sent
        to them while it was away is replayed); one it no longer joins is not restored."""
        rooms = {room: span for room, span in old.rooms.items()
                 if span[1] is not None or room not in old.connect_rooms or room in joined}
        for room, at in joined.items():
            if room not in rooms or rooms[room][1] is not None:
                rooms[room] = [at, None]
        return Snapshot(key=old.key, sid=old.sid, owner=old.owner, gen=old.gen,
                        state=old.state, at=old.at, pos=old.pos, seen=old.seen, last=old.last,
                        floor=old.floor, rooms=rooms, data=old.data, mode=old.mode,
                        user=old.user, connect_rooms=set(joined))
