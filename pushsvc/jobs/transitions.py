"""What a batch/v1 Job's status says happened to it, as an ordered list of transitions.

Pure functions, no I/O. The Job controller writes ``status.startTime``, ``active`` (pods
pending or running), ``failed`` and ``succeeded`` (pods that ended so), ``completionTime``
and a ``Complete`` or ``Failed`` condition with its reason (``BackoffLimitExceeded``, ...).
From one status alone the whole history follows, because the counters only grow:

``created`` → ``running`` (attempt 1) → ``retrying`` (attempt 1's pod failed, the Job goes on)
→ ``running`` (attempt 2) → … → ``succeeded`` or ``failed``.

So a watcher that missed updates (a relist, a new leader) derives the same list as one that
saw each of them, and the bus Event of a transition can be named after the Job's uid and the
transition: the name is the same whoever creates it, so a second create gets 409.

Only some transitions carry a time in the status: ``created`` (creationTimestamp), the first
``running`` (startTime) and the end (completionTime, or the condition's lastTransitionTime).
The others happened after ``startTime``: that is their lower bound (:attr:`Transition.at` is
None, :func:`lower_bound` gives the bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pushsvc.rooms import MAX_ROOM_CHARS, RESERVED_ROOM_PREFIXES, SID_SHAPED

NOTIFY_LABEL = "pushsvc.io/notify"
#: The watch selects by this: a Job without the label is never read.
LABEL_SELECTOR = f"{NOTIFY_LABEL}=true"
USER_ANNOTATION = "pushsvc.io/notify-user"
ROOM_ANNOTATION = "pushsvc.io/notify-room"
USER_ROOM_PREFIX = "user:"
#: The token subjects pushsvc accepts are at most this long (pushsvc.identity.MAX_SUB_CHARS).
MAX_USER_CHARS = 256
PHASES = ("created", "running", "retrying", "succeeded", "failed")


@dataclass(frozen=True, slots=True)
class Transition:
    """One step of a Job's life: its phase, the attempt (1-based pod number) and its time when
    the status records it (Unix seconds), else None."""

    phase: str
    attempt: int
    at: float | None = None

    @property
    def key(self) -> str:
        return f"{self.phase}-{self.attempt}"


def parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _count(status: dict[str, Any], key: str) -> int:
    value = status.get(key)
    return value if isinstance(value, int) and value > 0 else 0


def finished(job: dict[str, Any]) -> dict[str, Any] | None:
    """The ``Complete`` or ``Failed`` condition with status True, if the Job ended."""
    for condition in (job.get("status") or {}).get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") in ("Complete", "Failed") \
                and condition.get("status") == "True":
            return condition
    return None


def transitions(job: dict[str, Any]) -> list[Transition]:
    """Every transition the Job's metadata and status imply, oldest first."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    failed = _count(status, "failed")
    end = finished(job)
    start = parse_time(status.get("startTime"))
    out = [Transition("created", 1, parse_time(meta.get("creationTimestamp")))]
    # A pod that failed was active before; so was one that succeeded or is active now.
    ran = failed + (1 if _count(status, "active") or _count(status, "succeeded")
                    or (end is not None and end.get("type") == "Complete") else 0)
    # When the Job failed for good, its last failed pod was not retried.
    retried = failed - 1 if end is not None and end.get("type") == "Failed" and failed else failed
    for attempt in range(1, ran + 1):
        out.append(Transition("running", attempt, start if attempt == 1 else None))
        if attempt <= retried:
            out.append(Transition("retrying", attempt))
    if end is not None:
        at = parse_time(status.get("completionTime")) or parse_time(
            end.get("lastTransitionTime"))
        phase = "succeeded" if end.get("type") == "Complete" else "failed"
        out.append(Transition(phase, max(1, ran), at))
    return out


def lower_bound(job: dict[str, Any], transition: Transition) -> float | None:
    """The transition's time, or the earliest it can have happened (its Job's startTime)."""
    if transition.at is not None:
        return transition.at
    return parse_time((job.get("status") or {}).get("startTime")) or parse_time(
        (job.get("metadata") or {}).get("creationTimestamp"))


def event_name(uid: str, transition: Transition) -> str:
    """The bus Event's name: the same in every pod, so a second create is a 409."""
    return f"pushsvc-job-{uid}-{transition.key}"


def payload(job: dict[str, Any], transition: Transition) -> dict[str, Any]:
    """The ``pushsvc_job`` event's data (docs/jobs.md)."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    end = finished(job) if transition.phase in ("succeeded", "failed") else None
    return {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "phase": transition.phase,
        "attempt": transition.attempt,
        "reason": (end or {}).get("reason"),
        "message": (end or {}).get("message"),
        "startTime": status.get("startTime"),
        "completionTime": status.get("completionTime"),
        "succeeded": _count(status, "succeeded"),
        "failed": _count(status, "failed"),
        "active": _count(status, "active"),
    }


class TargetError(ValueError):
    """An annotation names no room pushsvc may address; ``reason`` is the metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _check_room(room: str) -> str:
    if not room.strip():
        raise TargetError("empty", f"{ROOM_ANNOTATION} is empty")
    if len(room) > MAX_ROOM_CHARS:
        raise TargetError("too_long", f"{ROOM_ANNOTATION} is {len(room)} characters; the "
                          f"limit is {MAX_ROOM_CHARS}")
    if SID_SHAPED.fullmatch(room):
        raise TargetError("sid_shaped", f"{ROOM_ANNOTATION} has the shape of a session id "
                          "(20 letters, digits, '_' or '-'): that is one client's private room")
    if room.startswith(RESERVED_ROOM_PREFIXES):
        raise TargetError("reserved", f"{ROOM_ANNOTATION} starts with a reserved prefix "
                          f"({' or '.join(RESERVED_ROOM_PREFIXES)}); name a user with "
                          f"{USER_ANNOTATION}")
    return room


def rooms(job: dict[str, Any]) -> list[str]:
    """The rooms the Job's annotations name: ``user:<sub>`` for the user, the room as is.

    Raises :class:`TargetError` when an annotation is malformed or none is set.
    """
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    out: list[str] = []
    if USER_ANNOTATION in annotations:
        user = annotations[USER_ANNOTATION]
        if not isinstance(user, str) or not user.strip():
            raise TargetError("empty", f"{USER_ANNOTATION} is empty")
        if len(user) > MAX_USER_CHARS:
            raise TargetError("too_long", f"{USER_ANNOTATION} is {len(user)} characters; the "
                              f"limit is {MAX_USER_CHARS}")
        out.append(USER_ROOM_PREFIX + user)
    if ROOM_ANNOTATION in annotations:
        out.append(_check_room(str(annotations[ROOM_ANNOTATION])))
    if not out:
        raise TargetError("no_target", f"neither {USER_ANNOTATION} nor {ROOM_ANNOTATION} is "
                          "set")
    return out


__all__ = ["LABEL_SELECTOR", "NOTIFY_LABEL", "PHASES", "ROOM_ANNOTATION", "USER_ANNOTATION",
           "TargetError", "Transition", "event_name", "finished", "lower_bound", "payload",
           "rooms", "transitions"]
