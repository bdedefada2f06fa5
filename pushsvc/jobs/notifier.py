"""The Job notifier: the Lease holder watches labelled Jobs and pushes each transition once.

- **One pod at a time**: the janitor's Lease decides (``leading``), so one election serves
  both and costs no second renew write every retry period; the janitor's handover rules hold
  (a SIGTERMed holder releases it at once, a SIGKILLed one after the lease duration).
- **Only labelled Jobs are read**: list and watch carry ``labelSelector=pushsvc.io/notify=true``
  in every namespace of ``namespaces``. The watcher rules of docs/bus.md apply: list, then
  watch from the list's resourceVersion with a server timeout and a client read timeout;
  410 → list again; back off with jitter on errors, honour Retry-After.
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

import contextlib
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.client import Emitter
from emitter.wire import (
    CONNECTION_ERRORS,
    RBAC_API,
    AlreadyExistsError,
    Backoff,
    EmitMessage,
    PushError,
    raw_request,
    retry_after_seconds,
    status_message,
)
from pushsvc.jobs import metrics
from pushsvc.jobs import transitions as tr

logger = logging.getLogger(__name__)

#: Which kustomize component grants the verbs, named in every 403 message.
GRANT = "manifests/job-notify"


def jobs_path(namespace: str) -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs"


def permission_message(exc: ApiException, *, verb: str, namespace: str) -> str:
    return (f"job notifier forbidden: cannot {verb} jobs (API group batch) in namespace "
            f"{namespace!r}; apply {GRANT} (Role pushsvc-job-notify: list/watch on jobs, "
            f"bound to ServiceAccount pushsvc-api) in that namespace. The API server said: "
            f"{status_message(exc)}")


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


class _Restart(Exception):
    def __init__(self, cause: str, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.cause = cause
        self.retry_after = retry_after


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
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, _Seen] = OrderedDict()
        self._skipped: OrderedDict[str, str] = OrderedDict()
        self._forbidden_logged: set[str] = set()
        metrics.tracked_jobs.set_function(lambda: len(self._jobs))

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        for namespace in self.namespaces:
            metrics.watch_up.labels(namespace=namespace).set(0)
            thread = threading.Thread(target=self._run, args=(namespace,), daemon=True,
                                      name=f"job-notify-{namespace}")
            thread.start()
            self._threads.append(thread)
        logger.info("job notifier: the Lease holder watches Jobs labelled %s in %s (event %r)",
                    tr.LABEL_SELECTOR, ", ".join(self.namespaces), self.options.event)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- one namespace -------------------------------------------------------------
    def _run(self, namespace: str) -> None:
        backoff = Backoff(initial=0.8, maximum=self.options.backoff_max_seconds)
        while not self._stop.is_set():
            if not self.leading():
                self._stop.wait(self.options.poll_seconds)
                continue
            opened = time.monotonic()
            try:
                version = self._list(namespace)
                metrics.watch_up.labels(namespace=namespace).set(1)
                while not self._stop.is_set():
                    version, quiet = self._watch(namespace, version)
                    backoff.reset()
                    if quiet:
                        # Nothing came: after an etcd restore a watch from a version the
                        # server lost waits silently (#135452). The labelled Jobs are few:
                        # list them again rather than trust the version.
                        version = self._list(namespace)
            except _Restart as restart:
                metrics.watch_up.labels(namespace=namespace).set(0)
                metrics.watch_restarts.labels(cause=restart.cause).inc()
                if restart.cause == "lost_lease":
                    self._forget()
                    logger.info("job notifier: Lease lost; stopped watching Jobs in %s",
                                namespace)
                    continue
                if restart.cause == "expired":
                    continue  # routine: list again at once
                delay = restart.retry_after if restart.retry_after is not None else \
                    backoff.next()
                if time.monotonic() - opened > 60:
                    backoff.reset()
                # A 403 was logged once already (with the grant to apply); the rest each time.
                logger.log(logging.DEBUG if restart.cause == "forbidden" else logging.WARNING,
                           "job notifier: watch of Jobs in %s restarts (%s): %s; retrying in "
                           "%.1f s", namespace, restart.cause, restart, delay)
                self._stop.wait(delay)
            except Exception:  # a bug must not end the loop
                metrics.watch_up.labels(namespace=namespace).set(0)
                logger.exception("job notifier: unexpected failure in namespace %s", namespace)
                self._stop.wait(backoff.next())
        metrics.watch_up.labels(namespace=namespace).set(0)

    def _request(self, namespace: str, query: list[tuple[str, str]], *, verb: str,
                 read_timeout: float) -> Any:
        try:
            return raw_request(self.api_client, "GET", jobs_path(namespace), query=query,
                               timeout=(10.0, read_timeout))
        except ApiException as exc:
            if exc.status == 403:
                message = permission_message(exc, verb=verb, namespace=namespace)
                if message not in self._forbidden_logged:
                    self._forbidden_logged.add(message)
                    logger.error("%s", message)
                raise _Restart("forbidden", message) from exc
            if exc.status == 410:
                raise _Restart("expired", "resourceVersion too old (410)") from exc
            raise _Restart("http", f"HTTP {exc.status} {status_message(exc)}",
                           retry_after=retry_after_seconds(exc)) from exc
        except CONNECTION_ERRORS as exc:
            raise _Restart("connection", f"{type(exc).__name__}: {exc}") from exc

    def _list(self, namespace: str) -> str:
        metrics.relists.inc()
        token, version, count = "", "", 0
        while True:
            query = [("labelSelector", tr.LABEL_SELECTOR),
                     ("limit", str(self.options.page_size))]
            if token:
                query.append(("continue", token))
            resp = self._request(namespace, query, verb="list", read_timeout=30.0)
            try:
                body = orjson.loads(resp.data)
            except orjson.JSONDecodeError as exc:
                raise _Restart("stream_error", f"list body is not JSON: {exc}") from exc
            meta = body.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            for job in body.get("items") or ():
                count += 1
                self._handle_or_restart(job, namespace)
            token = meta.get("continue") or ""
            if not token:
                logger.info("job notifier: listed %d labelled Jobs in %s at resourceVersion %s",
                            count, namespace, version)
                return version

    def _watch(self, namespace: str, version: str) -> tuple[str, bool]:
        """One stream from ``version``: returns the version to resume from and whether it was
        quiet (no line at all)."""
        query = [("labelSelector", tr.LABEL_SELECTOR), ("watch", "true"),
                 ("resourceVersion", version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", str(self.options.watch_timeout_seconds))]
        resp = self._request(namespace, query, verb="watch",
                             read_timeout=self.options.read_timeout_seconds)
        done = threading.Event()
        guard = threading.Thread(target=self._guard, args=(resp, done), daemon=True,
                                 name=f"job-notify-guard-{namespace}")
        guard.start()
        quiet = True
        try:
            for line in _lines(resp):
                quiet = False
                if self._stop.is_set():
                    return version, quiet
                if not self.leading():
                    raise _Restart("lost_lease", "the Lease was lost")
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise _Restart("stream_error", f"watch line is not JSON: {exc}") from exc
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    code = obj.get("code")
                    raise _Restart("expired" if code == 410 else "http",
                                   f"ERROR {code}: {obj.get('message')}")
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED"):
                    self._handle_or_restart(obj, namespace)
                elif kind == "DELETED":
                    self._drop((obj.get("metadata") or {}).get("uid") or "")
        except CONNECTION_ERRORS as exc:
            if not self.leading() and not self._stop.is_set():
                raise _Restart("lost_lease", "the Lease was lost") from exc
            raise _Restart("connection", f"{type(exc).__name__}: {exc}") from exc
        finally:
            done.set()
            resp.close()
        if not self.leading():
            raise _Restart("lost_lease", "the Lease was lost")
        metrics.watch_restarts.labels(cause="timeout" if quiet else "closed").inc()
        return version, quiet

    def _guard(self, resp: Any, done: threading.Event) -> None:
        """End the watch as soon as the Lease is lost (the stream may be silent for minutes).

        It shuts the socket down under the reader, which then sees the stream end; closing
        the response from here would race the reader's own read (a reentrant close)."""
        while not done.wait(self.options.poll_seconds):
            if self._stop.is_set():
                return
            if not self.leading():
                sock = getattr(getattr(resp, "_connection", None), "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def _handle_or_restart(self, job: dict[str, Any], namespace: str) -> None:
        """A push that failed (after the emitter's own retries) ends the stream: the list
        after the back-off tries it again, in order, before anything newer."""
        outcomes = self.handle(job, namespace=namespace)
        if any(outcome == "error" for _, outcome in outcomes):
            raise _Restart("push_failed", "a transition could not be pushed; listing again")
        if any(outcome == "not_leading" for _, outcome in outcomes):
            raise _Restart("lost_lease", "the Lease was lost")

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

    def _drop(self, uid: str) -> None:
        with self._lock:
            self._jobs.pop(uid, None)
            self._skipped.pop(uid, None)

    def _forget(self) -> None:
        """On losing the Lease: what another leader pushes meanwhile is not known here."""
        with self._lock:
            self._jobs.clear()


def _lines(resp: Any) -> Iterator[bytes]:
    buffer = b""
    for chunk in resp.stream(None, decode_content=False):
        buffer += chunk
        if b"\n" not in chunk:
            continue
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


__all__ = ["GRANT", "RBAC_API", "JobNotifier", "JobNotifyOptions", "jobs_path",
           "permission_message"]
