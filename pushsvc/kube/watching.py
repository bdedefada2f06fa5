"""One list-then-watch loop for every watch pushsvc holds (bus Events, labelled Jobs, Leases).

The rules (docs/bus.md, "Watcher"; kopf's ``_cogs/clients/watching.py`` is the model): list,
page by page, and remember the list's resourceVersion; watch from it with a server
``timeoutSeconds`` *and* a client read timeout (a half-open connection otherwise hangs
forever) and ``allowWatchBookmarks``; take the version of every line, BOOKMARKs included, as
the place to resume from; on 410 (an HTTP status or an ERROR line) list again; on a 504 "Too
large resource version" (a version the server lost: an etcd restore) list again from the
current version, as client-go's reflector does (kubernetes#92537); any other failure backs
off with jitter, and a 429 waits out its ``Retry-After``. A 403 names the verb, the resource,
the namespace and what to apply.

:class:`ListWatch` is the loop; a watcher subclasses it and says what a list and a line mean
to it (``_list``, ``_on_event``) and what a restart costs (``_after_stream``, with
:meth:`ListWatch._delay` as the usual policy). :class:`Restart` ends one stream; it carries
the metrics label (``cause``), the log text and what comes next (relist, rewind, Retry-After).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, Generic, TypeVar

import orjson
import urllib3
from kubernetes.client.exceptions import ApiException

from emitter.wire import CONNECTION_ERRORS, Backoff, retry_after_seconds, status_message
from pushsvc.kube.transport import (
    KubeTransport,
    ListPage,
    WatchStream,
    WatchTransport,
    lines,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

TOO_LARGE = "Too large resource version"
class Restart(Exception):
    """Ends one watch stream; ``cause`` is the metrics label, ``detail`` the log text.

    ``relist``: list again before the next watch. ``rewind``: the API server's resourceVersion
    is behind this watcher's (an etcd restore): relist and forget the old versions.
    ``retry_after``: a 429's wait, not a moment less. ``quiet``: the stream ended without a
    line.
    """

    def __init__(self, cause: str, detail: str, *, relist: bool = False,
                 rewind: bool = False, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.relist = relist or rewind
        self.rewind = rewind
        self.retry_after = retry_after
        self.quiet = False
        self.too_large = False


def too_large(detail: str) -> Restart:
    """A 504 "Too large resource version": the server lost the version (an etcd restore)."""
    restart = Restart("rewound", detail, rewind=True)
    restart.too_large = True
    return restart


def api_restart(exc: ApiException, *, verb: str,
                forbidden: Callable[[ApiException, str], str]) -> Restart:
    """The restart an ``ApiException`` of ``verb`` calls for; ``forbidden(exc, verb)`` writes
    a 403's message (verb, resource, namespace and the RBAC file to apply)."""
    status = exc.status or 0
    if status == 410:
        return Restart("expired", f"{verb}: 410 Gone; relisting", relist=True)
    if status == 403:
        return Restart("forbidden", forbidden(exc, verb))
    if status == 429:
        return Restart("throttled", f"{verb}: 429 Too Many Requests",
                       retry_after=retry_after_seconds(exc))
    if status == 504 and TOO_LARGE in status_message(exc):
        # client-go's reflector relists from resourceVersion="" (kubernetes#92537)
        return too_large(f"{verb}: {status_message(exc)}; relisting from the current version")
    if status >= 500:
        return Restart("server_error", f"{verb}: HTTP {status} {status_message(exc)}")
    return Restart("api_error", f"{verb}: HTTP {status} {status_message(exc)}")


def parse_line(line: bytes, *, resume: str = "") -> tuple[str, dict[str, Any]]:
    """A watch line's type and object; an ERROR line or an unreadable one is a Restart
    (``resume``, the version the watch started from, is named in the 410's text)."""
    try:
        event = orjson.loads(line)
        kind = event["type"]
        obj = event["object"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise Restart("stream_error", f"unreadable watch line: {exc}") from exc
    if not isinstance(obj, dict):
        raise Restart("stream_error", f"watch line object is a {type(obj).__name__}")
    if kind == "ERROR":
        code = obj.get("code")
        message = str(obj.get("message", ""))[:300]
        if code == 410:
            raise Restart("expired", f"resourceVersion {resume} is too old (410 in the stream); "
                          "relisting", relist=True)
        if code == 504 and TOO_LARGE in message:
            raise too_large(f"resourceVersion {resume} is ahead of the API server ({message}); "
                            "relisting from the current version")
        raise Restart("error", f"ERROR in the watch stream: {code} {message}")
    return str(kind), obj


def version_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return str(version) if isinstance(version, str | int) and version else ""


class ListWatch(Generic[T]):
    """List, then watch from the list's version, forever (until :meth:`stop`).

    Subclasses implement ``_list`` (a generator over what the list hands out; it sets
    :attr:`resource_version`), ``_on_event`` (one ADDED/MODIFIED/DELETED object) and
    ``_after_stream`` (metrics, log, wait); the hooks ``_opened``, ``_closed`` and
    ``_after_quiet_watch`` are optional.
    """

    #: Names the loop in its log lines ("bus", "job notifier", "presence").
    what = "watch"

    def __init__(self, transport: WatchTransport, *, timeout_seconds: float,
                 forbidden: Callable[[ApiException, str], str],
                 backoff: Backoff | None = None, backoff_reset_seconds: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff or Backoff(initial=0.8, maximum=30.0)
        self.backoff_reset_seconds = backoff_reset_seconds
        self.resource_version = ""
        self._forbidden = forbidden
        self._sleep = sleep
        self._clock = clock
        self._stopped = False

    def stop(self) -> None:
        """Ask the loop to end after the current line (tests, shutdown)."""
        self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    # --- the loop --------------------------------------------------------------------
    def watch_forever(self) -> Iterator[T]:
        need_list = True
        rewind = False
        last_restart: Restart | None = None
        while not self.stopped:
            opened = self._clock()
            try:
                if need_list:
                    yield from self._list(rewind=rewind)
                    need_list = rewind = False
                got_line = yield from self._watch_once()
                if self.stopped:
                    return
                lived = self._clock() - opened
                if not got_line and lived >= self.timeout_seconds * 0.9:
                    # A watch from a version the server does not have yet waits silently
                    # (kubernetes#135452): a watcher may check the server's version now.
                    self._after_quiet_watch()
                end = Restart("timeout" if lived >= self.timeout_seconds * 0.9 else "closed",
                              "the API server closed the watch")
                end.quiet = not got_line
                raise end
            except Restart as restart:
                need_list = need_list or restart.relist
                rewind = rewind or restart.rewind
                self._after_stream(restart, opened, last_restart)
                need_list = need_list or restart.relist  # a hook may ask for a list too
                last_restart = restart
            except Exception as exc:  # a bug here must not become a hot restart loop
                logger.exception("%s watcher failed unexpectedly; relisting after a backoff",
                                 self.what)
                failure = Restart("unexpected", f"{type(exc).__name__}: {exc}", relist=True)
                need_list = True
                self._after_stream(failure, opened, last_restart)
                last_restart = failure

    def _pages(self, *, limit: int | None = None) -> Generator[ListPage, None, None]:
        """The transport's pages, its failures as Restarts."""
        try:
            yield from self.transport.list_pages(limit=limit)
        except ApiException as exc:
            raise api_restart(exc, verb="list", forbidden=self._forbidden) from exc
        except CONNECTION_ERRORS as exc:
            raise Restart("connection", f"list failed: {type(exc).__name__}: {exc}") from exc
        except orjson.JSONDecodeError as exc:
            raise Restart("stream_error", f"list body is not JSON: {exc}") from exc

    def _watch_once(self) -> Generator[T, None, bool]:
        opened = self._clock()
        got_line = False
        try:
            with self.transport.watch(self.resource_version) as stream:
                self._opened(stream)
                try:
                    for line in stream:
                        got_line = True
                        yield from self._handle_line(line)
                        if self.stopped:
                            return got_line
                        if self.backoff.failures and self._clock() - opened >= \
                                self.backoff_reset_seconds:
                            self.backoff.reset()
                finally:
                    self._closed()
        except ApiException as exc:
            raise api_restart(exc, verb="watch", forbidden=self._forbidden) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise Restart("read_timeout", "no data within the read timeout (half-open "
                          "connection?)") from exc
        except CONNECTION_ERRORS as exc:
            raise Restart("connection", f"{type(exc).__name__}: {exc}") from exc
        if self.stopped:
            return got_line
        if not got_line and self._clock() - opened < 1.0:
            end = Restart("closed", "the API server closed the watch at once")
            end.quiet = True
            raise end
        return got_line

    def _handle_line(self, line: bytes) -> Iterator[T]:
        kind, obj = parse_line(line, resume=self.resource_version)
        if kind != "BOOKMARK":
            yield from self._on_event(kind, obj)
        # The stream is ordered: every line's version, a BOOKMARK's too, is a safe place to
        # resume from.
        version = version_of(obj)
        if version:
            self.resource_version = version

    def _delay(self, restart: Restart, lived: float, previous: Restart | None, *,
               healthy: bool = True) -> float:
        """The usual wait before the next attempt: none for a routine end (the timeout, a
        close after a while, a first 410 or rewind in a row), a 429's Retry-After, else the
        jittered backoff (reset once a stream lived ``backoff_reset_seconds``)."""
        if healthy and lived >= self.backoff_reset_seconds:
            self.backoff.reset()
        if self.routine(restart, lived, previous):
            return 0.0
        if restart.retry_after is not None:
            # 429 (API Priority and Fairness): not a moment before its Retry-After.
            self.backoff.next()
            return max(restart.retry_after, 0.05)
        return self.backoff.next()

    @staticmethod
    def routine(restart: Restart, lived: float, previous: Restart | None) -> bool:
        return restart.cause == "timeout" or (
            restart.cause == "closed" and lived >= 1.0
        ) or (restart.cause in ("expired", "rewound")
              and (previous is None or previous.cause != restart.cause))

    # --- what a watcher says ---------------------------------------------------------------
    def _list(self, *, rewind: bool) -> Iterator[T]:
        raise NotImplementedError

    def _on_event(self, kind: str, obj: dict[str, Any]) -> Iterator[T]:
        raise NotImplementedError

    def _after_stream(self, restart: Restart, opened: float, previous: Restart | None) -> None:
        delay = self._delay(restart, self._clock() - opened, previous)
        level = logging.DEBUG if restart.cause == "timeout" else logging.WARNING
        logger.log(level, "%s watch restart (%s): %s; %s", self.what, restart.cause,
                   restart.detail, "reconnecting now" if delay == 0 else
                   f"retrying in {delay:.1f} s")
        if delay:
            self._sleep(delay)

    def _opened(self, stream: Iterable[bytes]) -> None:
        """The watch is open (its response headers arrived)."""

    def _closed(self) -> None:
        """The watch stream ended, however it ended."""

    def _after_quiet_watch(self) -> None:
        """A watch that lived its timeout without one line; may raise a Restart."""


__all__ = ["KubeTransport", "ListPage", "ListWatch", "Restart", "WatchStream", "WatchTransport",
           "api_restart", "lines", "parse_line", "too_large", "version_of"]
