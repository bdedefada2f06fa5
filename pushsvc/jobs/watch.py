"""List, then watch, one namespace's labelled Jobs while this pod holds the Lease.

The watcher rules of docs/bus.md: list with ``labelSelector=pushsvc.io/notify=true`` (a Job
without the label is never read), watch from the list's resourceVersion with a server
``timeoutSeconds`` and a client read timeout, resume from the last version seen, 410 → list
again, back off with jitter (Retry-After honoured), log a 403 once with the grant to apply.
A quiet watch is followed by a list (after an etcd restore a watch from a lost version waits
silently, kubernetes#135452). Losing the Lease ends the stream at once: a guard shuts the
socket down under the reader.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from kubernetes.client.exceptions import ApiException

from emitter.wire import (
    CONNECTION_ERRORS,
    Backoff,
    raw_request,
    retry_after_seconds,
    status_message,
)
from pushsvc.jobs import metrics
from pushsvc.jobs import transitions as tr

if TYPE_CHECKING:
    from pushsvc.jobs.notifier import JobNotifier

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


class _Restart(Exception):
    def __init__(self, cause: str, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.cause = cause
        self.retry_after = retry_after


class JobWatch:
    """The list+watch loop of one namespace, feeding :meth:`JobNotifier.handle`."""

    def __init__(self, notifier: JobNotifier, namespace: str) -> None:
        self.notifier = notifier
        self.namespace = namespace
        self._forbidden_logged: set[str] = set()

    def run(self) -> None:
        backoff = Backoff(initial=0.8, maximum=self.notifier.options.backoff_max_seconds)
        while not self.notifier.stopping.is_set():
            if not self.notifier.leading():
                self.notifier.stopping.wait(self.notifier.options.poll_seconds)
                continue
            opened = time.monotonic()
            try:
                version = self._list()
                metrics.watch_up.labels(namespace=self.namespace).set(1)
                while not self.notifier.stopping.is_set():
                    began = time.monotonic()
                    version, quiet = self._watch(version)
                    if time.monotonic() - began < 1.0:
                        # A server that ends streams at once must not become a hot loop.
                        self.notifier.stopping.wait(backoff.next())
                    else:
                        backoff.reset()
                    if quiet:
                        # Nothing came: after an etcd restore a watch from a version the
                        # server lost waits silently (#135452). The labelled Jobs are few:
                        # list them again rather than trust the version.
                        version = self._list()
            except _Restart as restart:
                metrics.watch_up.labels(namespace=self.namespace).set(0)
                metrics.watch_restarts.labels(cause=restart.cause).inc()
                if restart.cause == "lost_lease":
                    self.notifier.forget()
                    logger.info("job notifier: Lease lost; stopped watching Jobs in %s",
                                self.namespace)
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
                           "%.1f s", self.namespace, restart.cause, restart, delay)
                self.notifier.stopping.wait(delay)
            except Exception:  # a bug must not end the loop
                metrics.watch_up.labels(namespace=self.namespace).set(0)
                logger.exception("job notifier: unexpected failure in namespace %s",
                                 self.namespace)
                self.notifier.stopping.wait(backoff.next())
        metrics.watch_up.labels(namespace=self.namespace).set(0)

    def _request(self, query: list[tuple[str, str]], *, verb: str,
                 read_timeout: float) -> Any:
        try:
            return raw_request(self.notifier.api_client, "GET", jobs_path(self.namespace),
                               query=query, timeout=(10.0, read_timeout))
        except ApiException as exc:
            if exc.status == 403:
                message = permission_message(exc, verb=verb, namespace=self.namespace)
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

    def _list(self) -> str:
        metrics.relists.inc()
        token, version, count = "", "", 0
        while True:
            query = [("labelSelector", tr.LABEL_SELECTOR),
                     ("limit", str(self.notifier.options.page_size))]
            if token:
                query.append(("continue", token))
            resp = self._request(query, verb="list", read_timeout=30.0)
            try:
                body = orjson.loads(resp.data)
            except orjson.JSONDecodeError as exc:
                raise _Restart("stream_error", f"list body is not JSON: {exc}") from exc
            meta = body.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            for job in body.get("items") or ():
                count += 1
                self._handle_or_restart(job)
            token = meta.get("continue") or ""
            if not token:
                logger.info("job notifier: listed %d labelled Jobs in %s at resourceVersion %s",
                            count, self.namespace, version)
                return version

    def _watch(self, version: str) -> tuple[str, bool]:
        """One stream from ``version``: returns the version to resume from and whether it was
        quiet (no line at all)."""
        query = [("labelSelector", tr.LABEL_SELECTOR), ("watch", "true"),
                 ("resourceVersion", version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", str(self.notifier.options.watch_timeout_seconds))]
        resp = self._request(query, verb="watch",
                             read_timeout=self.notifier.options.read_timeout_seconds)
        done = threading.Event()
        guard = threading.Thread(target=self._guard, args=(resp, done), daemon=True,
                                 name=f"job-notify-guard-{self.namespace}")
        guard.start()
        quiet = True
        try:
            for line in _lines(resp):
                quiet = False
                if self.notifier.stopping.is_set():
                    return version, quiet
                if not self.notifier.leading():
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
                    self._handle_or_restart(obj)
                elif kind == "DELETED":
                    self.notifier.drop((obj.get("metadata") or {}).get("uid") or "")
        except CONNECTION_ERRORS as exc:
            if not self.notifier.leading() and not self.notifier.stopping.is_set():
                raise _Restart("lost_lease", "the Lease was lost") from exc
            raise _Restart("connection", f"{type(exc).__name__}: {exc}") from exc
        finally:
            done.set()
            resp.close()
        if not self.notifier.leading():
            raise _Restart("lost_lease", "the Lease was lost")
        metrics.watch_restarts.labels(cause="timeout" if quiet else "closed").inc()
        return version, quiet

    def _guard(self, resp: Any, done: threading.Event) -> None:
        """End the watch as soon as the Lease is lost (the stream may be silent for minutes).

        It shuts the socket down under the reader, which then sees the stream end; closing
        the response from here would race the reader's own read (a reentrant close)."""
        while not done.wait(self.notifier.options.poll_seconds):
            if self.notifier.stopping.is_set():
                return
            if not self.notifier.leading():
                sock = getattr(getattr(resp, "_connection", None), "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def _handle_or_restart(self, job: dict[str, Any]) -> None:
        """A push that failed (after the emitter's own retries) ends the stream: the list
        after the back-off tries it again, in order, before anything newer."""
        outcomes = self.notifier.handle(job, namespace=self.namespace)
        if any(outcome == "error" for _, outcome in outcomes):
            raise _Restart("push_failed", "a transition could not be pushed; listing again")
        if any(outcome == "not_leading" for _, outcome in outcomes):
            raise _Restart("lost_lease", "the Lease was lost")

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


__all__ = ["GRANT", "JobWatch", "jobs_path", "permission_message"]
