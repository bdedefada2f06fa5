"""List, then watch, one namespace's labelled Jobs while this pod holds the Lease.

The watcher rules of docs/bus.md: list with ``labelSelector=pushsvc.io/notify=true`` (a Job
without the label is never read), watch from the list's resourceVersion with a server
``timeoutSeconds`` and a client read timeout, resume from the last version seen, 410 → list
again, back off with jitter (Retry-After honoured), log a 403 once with the grant to apply.
A quiet watch is followed by a list (after an etcd restore a watch from a lost version waits
silently, kubernetes#135452). Losing the Lease ends the stream at once: a guard shuts the
socket down under the reader. The loop is pushsvc/kube/watching.py's, shared with the bus.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from emitter.wire import Backoff, status_message
from pushsvc.jobs import metrics
from pushsvc.jobs import transitions as tr
from pushsvc.kube.watching import KubeTransport, ListWatch, Restart, WatchStream

if TYPE_CHECKING:
    from pushsvc.jobs.notifier import JobNotifier

logger = logging.getLogger(__name__)

#: Which kustomize component grants the verbs, named in every 403 message.
GRANT = "manifests/job-notify"
#: The loop's causes as this notifier's metric has always named them (docs/jobs.md).
_CAUSES = {"throttled": "http", "server_error": "http", "api_error": "http", "error": "http",
           "rewound": "http", "read_timeout": "connection"}


def jobs_path(namespace: str) -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs"


def permission_message(exc: ApiException, *, verb: str, namespace: str) -> str:
    return (f"job notifier forbidden: cannot {verb} jobs (API group batch) in namespace "
            f"{namespace!r}; apply {GRANT} (Role pushsvc-job-notify: list/watch on jobs, "
            f"bound to ServiceAccount pushsvc-api) in that namespace. The API server said: "
            f"{status_message(exc)}")


class JobWatch(ListWatch[None]):
    """The list+watch loop of one namespace, feeding :meth:`JobNotifier.handle`, while this
    pod holds the Lease."""

    what = "job notifier"

    def __init__(self, notifier: JobNotifier, namespace: str) -> None:
        options = notifier.options
        transport = KubeTransport(
            notifier.api_client, path=jobs_path(namespace), label_selector=tr.LABEL_SELECTOR,
            timeout_seconds=options.watch_timeout_seconds,
            read_timeout_seconds=options.read_timeout_seconds, page_size=options.page_size,
            adaptive_pages=False, list_read_timeout_seconds=30.0)
        super().__init__(transport, timeout_seconds=options.watch_timeout_seconds,
                         forbidden=self._forbidden_text,
                         backoff=Backoff(initial=0.8, maximum=options.backoff_max_seconds),
                         sleep=self._wait)
        self.notifier = notifier
        self.namespace = namespace
        self._forbidden_logged: set[str] = set()
        self._guard_done: threading.Event | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped or self.notifier.stopping.is_set()

    def _wait(self, seconds: float) -> None:
        self.notifier.stopping.wait(seconds)

    def run_while_leading(self) -> None:
        """Until the notifier stops: wait for the Lease, then list and watch until it is lost."""
        while not self.notifier.stopping.is_set():
            if not self.notifier.leading():
                self.notifier.stopping.wait(self.notifier.options.poll_seconds)
                continue
            self._stopped = False
            for _ in self.watch_forever():
                pass
        metrics.watch_up.labels(namespace=self.namespace).set(0)

    def _forbidden_text(self, exc: ApiException, verb: str) -> str:
        message = permission_message(exc, verb=verb, namespace=self.namespace)
        if message not in self._forbidden_logged:
            self._forbidden_logged.add(message)
            logger.error("%s", message)
        return message

    def _list(self, *, rewind: bool) -> Iterator[None]:
        metrics.relists.inc()
        count, version = 0, ""
        for page in self._pages():
            version = page.resource_version
            for job in page.items:
                count += 1
                self._handle_or_restart(job)
        self.resource_version = version
        metrics.watch_up.labels(namespace=self.namespace).set(1)
        logger.info("job notifier: listed %d labelled Jobs in %s at resourceVersion %s",
                    count, self.namespace, version)
        return
        yield  # a generator, as the loop wants

    def _handle_line(self, line: bytes) -> Iterator[None]:
        if not self.notifier.leading():
            raise Restart("lost_lease", "the Lease was lost")
        return super()._handle_line(line)

    def _on_event(self, kind: str, obj: dict[str, Any]) -> Iterator[None]:
        if kind in ("ADDED", "MODIFIED"):
            self._handle_or_restart(obj)
        elif kind == "DELETED":
            self.notifier.drop((obj.get("metadata") or {}).get("uid") or "")
        return iter(())

    def _after_stream(self, restart: Restart, opened: float, previous: Restart | None) -> None:
        if self.stopped:
            return
        if restart.cause == "unexpected":  # logged whole by the loop; a bug is no watch cause
            metrics.watch_up.labels(namespace=self.namespace).set(0)
            self._sleep(self.backoff.next())
            return
        if not self.notifier.leading() and restart.cause in ("connection", "timeout", "closed",
                                                             "read_timeout"):
            restart = Restart("lost_lease", "the Lease was lost")
        if restart.cause in ("timeout", "closed"):
            metrics.watch_restarts.labels(cause="timeout" if restart.quiet else "closed").inc()
            if self._clock() - opened < 1.0:
                # A server that ends streams at once must not become a hot loop.
                self._sleep(self.backoff.next())
            else:
                self.backoff.reset()
            if restart.quiet:
                # Nothing came: after an etcd restore a watch from a version the server lost
                # waits silently (#135452). The labelled Jobs are few: list them again rather
                # than trust the version.
                restart.relist = True
            return
        cause = _CAUSES.get(restart.cause, restart.cause)
        metrics.watch_up.labels(namespace=self.namespace).set(0)
        metrics.watch_restarts.labels(cause=cause).inc()
        if cause == "lost_lease":
            self.notifier.forget()
            logger.info("job notifier: Lease lost; stopped watching Jobs in %s", self.namespace)
            self.stop()
            return
        restart.relist = True
        if cause == "expired":
            return  # routine: list again at once
        delay = restart.retry_after if restart.retry_after is not None else self.backoff.next()
        if time.monotonic() - opened > 60:
            self.backoff.reset()
        # A 403 was logged once already (with the grant to apply); the rest each time.
        logger.log(logging.DEBUG if cause == "forbidden" else logging.WARNING,
                   "job notifier: watch of Jobs in %s restarts (%s): %s; retrying in "
                   "%.1f s", self.namespace, cause, restart.detail, delay)
        self._sleep(delay)

    def _opened(self, stream: Iterable[bytes]) -> None:
        done = self._guard_done = threading.Event()
        guard = threading.Thread(target=self._guard, args=(stream, done), daemon=True,
                                 name=f"job-notify-guard-{self.namespace}")
        guard.start()

    def _closed(self) -> None:
        if self._guard_done is not None:
            self._guard_done.set()

    def _guard(self, stream: Iterable[bytes], done: threading.Event) -> None:
        """End the watch as soon as the Lease is lost (the stream may be silent for minutes)."""
        while not done.wait(self.notifier.options.poll_seconds):
            if self.notifier.stopping.is_set():
                return
            if not self.notifier.leading():
                if isinstance(stream, WatchStream):
                    stream.abort()
                return

    def _handle_or_restart(self, job: dict[str, Any]) -> None:
        """A push that failed (after the emitter's own retries) ends the stream: the list
        after the back-off tries it again, in order, before anything newer."""
        outcomes = self.notifier.handle(job, namespace=self.namespace)
        if any(outcome == "error" for _, outcome in outcomes):
            raise Restart("push_failed", "a transition could not be pushed; listing again")
        if any(outcome == "not_leading" for _, outcome in outcomes):
            raise Restart("lost_lease", "the Lease was lost")


__all__ = ["GRANT", "JobWatch", "jobs_path", "permission_message"]
