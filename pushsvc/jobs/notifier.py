"""The Job notifier: the Lease holder watches labelled Jobs and pushes each transition once.

- **One pod at a time**: the janitor's Lease decides (``leading``), so one election serves
  both and costs no second renew write every retry period; the janitor's handover rules hold
  (a SIGTERMed holder releases it at once, a SIGKILLed one after the lease duration).
- **Only labelled Jobs are read**: one :class:`~pushsvc.jobs.watch.JobWatch` per namespace
  of ``namespaces`` lists and watches with ``labelSelector=pushsvc.io/notify=true``, by the
  watcher rules of docs/bus.md, and hands every Job to :meth:`JobNotifier.handle`.
- **Exactly once, also across a leader change**: a transition's bus Event is named after the
  Job's uid and the transition (:func:`~pushsvc.jobs.transitions.event_name`), so whichever
  pod creates it first wins and every later create gets 409 (counted ``duplicate``).
  The janitor deletes bus Events after the retention window, so a 409 proves "sent" only
  within it: a transition first seen by this pod whose time (or, when the status does not
  record it, the Job's startTime) is older than the window is not pushed (``too_old``).
- **Bounded**: at most ``max_jobs`` Jobs remembered; a Job whose annotations name a reserved
  or malformed room is skipped, counted and logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import ApiClient

from emitter.client import Emitter
from emitter.wire import AlreadyExistsError, EmitMessage, PushError
from pushsvc.jobs import metrics
from pushsvc.jobs import transitions as tr
from pushsvc.jobs.watch import JobWatch

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobNotifyOptions:
    event: str = "pushsvc_job"
    retention_seconds: float = 300.0
    max_jobs: int = 10_000
    watch_timeout_seconds: int = 300
    read_timeout_seconds: float = 330.0
    backoff_max_seconds: float = 30.0
    #: How often a waiting candidate checks the Lease, and a watch checks it is still held.
    poll_seconds: float = 0.5
    page_size: int = 500


@dataclass(slots=True)
class _Seen:
    sent: set[str] = field(default_factory=set)
    observed_at: float = 0.0


class JobNotifier:
    """Watches labelled Jobs while ``leading()`` and publishes their transitions on the bus."""

    def __init__(self, api_client: ApiClient, *, emitter: Emitter, namespaces: list[str],
                 leading: Callable[[], bool], options: JobNotifyOptions | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.api_client = api_client
        self.emitter = emitter
        self.namespaces = list(dict.fromkeys(namespaces))
        self.leading = leading
        self.options = options or JobNotifyOptions()
        self._wall = wall_clock
        #: Set by :meth:`stop`; the watches end at their next line or wait.
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, _Seen] = OrderedDict()
        self._skipped: OrderedDict[str, str] = OrderedDict()
        metrics.tracked_jobs.set_function(lambda: len(self._jobs))

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        for namespace in self.namespaces:
            metrics.watch_up.labels(namespace=namespace).set(0)
            thread = threading.Thread(target=JobWatch(self, namespace).run_while_leading,
                                      daemon=True, name=f"job-notify-{namespace}")
            thread.start()
            self._threads.append(thread)
        logger.info("job notifier: the Lease holder watches Jobs labelled %s in %s (event %r)",
                    tr.LABEL_SELECTOR, ", ".join(self.namespaces), self.options.event)

    def stop(self, timeout: float = 2.0) -> None:
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- one Job ---------------------------------------------------------------------
    def handle(self, job: dict[str, Any], *, namespace: str) -> list[tuple[str, str]]:
        """Push the Job's transitions not pushed yet; returns (transition, outcome) pairs."""
        meta = job.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        labels = meta.get("labels") or {}
        # The selector chose it; a second look keeps an unlabelled Job out even from a server
        # that ignored the selector.
        if not uid or labels.get(tr.NOTIFY_LABEL) != "true":
            return []
        try:
            rooms = tr.rooms(job)
        except tr.TargetError as exc:
            with self._lock:
                first = uid not in self._skipped
                if first:
                    self._skipped[uid] = exc.reason
                    while len(self._skipped) > self.options.max_jobs:
                        self._skipped.popitem(last=False)
            if first:
                metrics.skipped.labels(reason=exc.reason).inc()
                logger.warning("job notifier: Job %s/%s skipped (%s): %s", namespace,
                               meta.get("name"), exc.reason, exc)
            return []
        now = self._wall()
        cutoff = now - self.options.retention_seconds
        with self._lock:
            seen = self._jobs.pop(uid, None)
            first_sight = seen is None
            seen = seen or _Seen()
            self._jobs[uid] = seen
            while len(self._jobs) > self.options.max_jobs:
                self._jobs.popitem(last=False)
        done: list[tuple[str, str]] = []
        for transition in tr.transitions(job):
            if transition.key in seen.sent:
                continue
            # Not seen by this pod before: it happened after what it last saw of the Job.
            when = tr.lower_bound(job, transition) if first_sight or transition.at else \
                seen.observed_at
            if when is not None and when < cutoff:
                outcome = "too_old"
            elif not self.leading():
                outcome = "not_leading"
            else:
                outcome = self._push(job, transition, rooms)
            metrics.transitions.labels(phase=transition.phase, outcome=outcome).inc()
            done.append((transition.key, outcome))
            if outcome in ("not_leading", "error"):
                break  # in order: the later ones wait for it
            seen.sent.add(transition.key)
        seen.observed_at = now
        return done

    def _push(self, job: dict[str, Any], transition: tr.Transition, rooms: list[str]) -> str:
        uid = job["metadata"]["uid"]
        message = EmitMessage(event=self.options.event, data=[tr.payload(job, transition)],
                              room=rooms[0] if len(rooms) == 1 else rooms,
                              host_id=self.emitter.host_id)
        try:
            self.emitter.publish([message], name=tr.event_name(uid, transition))
        except AlreadyExistsError:
            return "duplicate"
        except PushError as exc:
            logger.warning("job notifier: pushing %s of Job %s/%s failed: %s", transition.key,
                           job["metadata"].get("namespace"), job["metadata"].get("name"), exc)
            return "error"
        logger.info("job notifier: pushed %s of Job %s/%s", transition.key,
                    job["metadata"].get("namespace"), job["metadata"].get("name"))
        return "pushed"

    def drop(self, uid: str) -> None:
        """A Job was deleted (or stopped matching the selector): forget it."""
        with self._lock:
            self._jobs.pop(uid, None)
            self._skipped.pop(uid, None)

    def forget(self) -> None:
        """On losing the Lease: what another leader pushes meanwhile is not known here."""
        with self._lock:
            self._jobs.clear()


__all__ = ["JobNotifier", "JobNotifyOptions"]
