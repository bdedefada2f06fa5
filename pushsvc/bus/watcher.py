"""The bus watcher: list, then watch core/v1 Events from the list's version, forever.

Rules (docs/bus.md, "Watcher"): list with the channel's label selector and remember the list's
resourceVersion — Events that existed before start are never replayed; watch from it with a
server ``timeoutSeconds`` *and* a client read timeout (a half-open connection otherwise hangs
forever); resume from the last resourceVersion seen in the stream; on 410 (HTTP status or an
ERROR line) list again and deliver only what was not delivered yet (a resourceVersion
watermark plus a bounded set of UIDs, :class:`_Delivered`);
skip BOOKMARK/MODIFIED/DELETED (TTL expiry sends DELETED); back off with jitter, honour
Retry-After, reset after a healthy period; log each restart once with its cause.

Every Event is untrusted (anyone with ``create`` on events writes them): one that cannot be
decoded for any reason — invalid, oversized, nested too deep (checked before parsing) — is
skipped, counted and logged, never stops the loop. The first list asks for one item (only its
resourceVersion matters); a relist is read page by page and marks each Event as it hands it
out, so the watermark only moves past what was handled. A resourceVersion that goes back (an
etcd restore: a list below the resume point, found after a quiet watch because a watch from a
version the server does not have waits silently) or a 504 "Too large resource version" resets
the watermark and relists, as client-go's reflector does (kubernetes#92537).

Watch lines are parsed with orjson straight from the socket (``_preload_content=False``): the
generated client's model deserialisation costs ~20x more per Event.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.wire import (
    CONNECTION_ERRORS,
    RBAC_API,
    Backoff,
    Envelope,
    PayloadRefusedError,
    SchemaVersionError,
    WireError,
    decode_event,
    events_path,
    forbidden_message,
    raw_request,
    retry_after_seconds,
    status_message,
)
from pushsvc.bus import metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListPage:
    """One page of a list: its items and the list's resourceVersion (the same on every page)."""

    items: list[dict[str, Any]]
    resource_version: str


class WatchTransport(Protocol):
    """What the watcher needs from the API: a paged list and a stream of raw watch lines."""

    def list_pages(self, *, limit: int | None = None) -> Iterator[ListPage]: ...

    def watch(self, resource_version: str) -> contextlib.AbstractContextManager[Iterator[bytes]]:
        ...


#: A list page of about this many bytes: bounded memory, few requests for small Events.
_PAGE_TARGET_BYTES = 4 * 1024 * 1024
_FIRST_PAGE = 50
_MIN_PAGE = 5


class KubeTransport:
    """The real transport: raw HTTP through the kubernetes ``ApiClient``."""

    def __init__(self, api_client: ApiClient, *, namespace: str, label_selector: str,
                 timeout_seconds: int, read_timeout_seconds: float,
                 connect_timeout_seconds: float = 10.0, page_size: int = 500) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.label_selector = label_selector
        self.timeout_seconds = timeout_seconds
        self.read_timeout_seconds = read_timeout_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self.page_size = page_size

    def list_pages(self, *, limit: int | None = None) -> Iterator[ListPage]:
        """Pages of the list, fetched one at a time: a namespace full of Events (up to 256 KiB
        of payload each) is never held in memory at once. The page size adapts so that a page
        holds about ``_PAGE_TARGET_BYTES``: it starts small, grows while Events are small (the
        usual ~1 KB) up to ``page_size`` and shrinks when they are large. ``limit`` fixes it."""
        version = ""
        token = ""
        size = limit or min(_FIRST_PAGE, self.page_size)
        while True:
            query = [("labelSelector", self.label_selector), ("limit", str(size))]
            if token:
                query.append(("continue", token))
            resp = raw_request(self.api_client, "GET", events_path(self.namespace), query=query,
                               timeout=(self.connect_timeout_seconds, self.read_timeout_seconds))
            raw = resp.data
            body = orjson.loads(raw)
            meta = body.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            token = meta.get("continue") or ""
            page = ListPage(body.get("items") or [], version)
            if limit is None and page.items:
                per_item = max(1, len(raw) // len(page.items))
                size = min(self.page_size, max(_MIN_PAGE, _PAGE_TARGET_BYTES // per_item))
            del body, resp, raw
            yield page
            del page  # not alive while the next page is read
            if not token:
                return

    @contextlib.contextmanager
    def watch(self, resource_version: str) -> Iterator[Iterator[bytes]]:
        query = [
            ("labelSelector", self.label_selector),
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(self.timeout_seconds)),
            ("allowWatchBookmarks", "true"),
        ]
        resp = raw_request(self.api_client, "GET", events_path(self.namespace), query=query,
                           timeout=(self.connect_timeout_seconds, self.read_timeout_seconds))
        try:
            yield _lines(resp)
        finally:
            # release_conn() would try to reuse a half-read stream: close it instead.
            resp.close()


def _lines(resp: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    buffer = b""
    # amt=None: hand over each chunk as soon as it arrives (one Event is one chunk)
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


class _Delivered:
    """What was already delivered: a resourceVersion watermark plus a bounded set of UIDs.

    Bus Events are only ever created, so an Event's resourceVersion is its creation version.
    Everything at or below ``upto`` was delivered or existed before this pod started; the
    UID set covers what was delivered above it. The watch stream is ordered, so forgetting the
    oldest UID just raises the watermark to its version — the bound never turns into a replay
    of old Events at the next relist, however many Events the namespace holds. A relist is not
    ordered (items come in name order): while one runs (``hold``), forgetting a UID does not
    raise the watermark; the list's own version does once every page was handled. With opaque
    (non-numeric) versions the watermark is off and only the UIDs count.
    """

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.upto: int | None = None
        self.hold = False
        self._uids: OrderedDict[str, int | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._uids)

    def __contains__(self, obj: object) -> bool:
        if not isinstance(obj, dict):
            return False
        if _uid(obj) in self._uids:
            return True
        version = _numeric_version(obj)
        return self.upto is not None and version is not None and version <= self.upto

    def knows_uid(self, obj: dict[str, Any]) -> bool:
        return _uid(obj) in self._uids

    def add(self, obj: dict[str, Any]) -> None:
        self._uids[_uid(obj)] = _numeric_version(obj)
        if len(self._uids) > self.maxlen:
            _, version = self._uids.popitem(last=False)
            if not self.hold and self.upto is not None and version is not None:
                self.upto = max(self.upto, version)

    def start(self, list_version: str) -> None:
        """At the first list: everything up to its version existed before this pod started."""
        self.upto = int(list_version) if list_version.isdigit() else None

    def listed(self, list_version: str) -> None:
        """After a list whose every page was handled: its version is the new watermark."""
        self.hold = False
        if not list_version.isdigit():
            return
        self.upto = max(self.upto or 0, int(list_version))
        # UIDs at or below the watermark are covered by it; keep only those above it (a
        # paginated list that is not a snapshot may hold an item newer than its version).
        self._uids = OrderedDict((u, v) for u, v in self._uids.items()
                                 if v is None or v > self.upto)

    def rewind(self, list_version: str) -> None:
        """The store's version went back (etcd restore): versions from before mean nothing.

        The watermark drops to the new list's version; remembered UIDs stay (UIDs are never
        reused, so they still stop a restored old Event from being delivered twice) but lose
        their versions, so forgetting one can never lift the watermark over new Events.
        """
        self.upto = int(list_version) if list_version.isdigit() else None
        self._uids = OrderedDict((u, None) for u in self._uids)


@dataclass
class WatchStatus:
    """For bus health: is the watch up, since when is it down, and why."""

    up: bool = False
    down_since: float = field(default_factory=time.monotonic)
    cause: str = "starting"
    resource_version: str = ""


@dataclass(frozen=True)
class Delivery:
    """One valid bus Event: its envelope, UID, the time it was created and the time this pod
    took its line off the stream (Unix seconds; a relisted Event: when it was decoded)."""

    envelope: Envelope
    uid: str
    created: float
    read_at: float = 0.0
    #: The Event's resourceVersion as an integer (0 when not numeric): with a message's index
    #: in the Event, its position in the bus's global order (connection state recovery).
    version: int = 0


class _Restart(Exception):
    """Ends one watch stream; ``cause`` is the metrics label, ``detail`` the log text.

    ``rewind``: the API server's resourceVersion is behind this watcher's (an etcd restore);
    relist and reset the watermark.
    """

    def __init__(self, cause: str, detail: str, *, relist: bool = False,
                 rewind: bool = False, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.relist = relist or rewind
        self.rewind = rewind
        self.retry_after = retry_after


class _LogOnce:
    """At most one log line per key and ``interval`` seconds; the lines in between are counted.

    A flood of bad Events (anyone with ``create`` can write them) must not become a flood of
    log lines on every pod.
    """

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, key: str, level: int, text: str, *args: Any) -> None:
        now = self._clock()
        if now - self._last.get(key, -1e18) < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            text += " (and %d more since the last such line)"
            args = (*args, suppressed)
        self._last[key] = now
        logger.log(level, text, *args)


class EventWatcher:
    """Yields :class:`Delivery` objects for new bus Events, surviving every API failure.

    Nothing an Event holds can stop it: an Event that cannot be decoded, for whatever reason,
    is skipped, counted and logged (rate-limited), and still marked as handled.
    """

    def __init__(
        self,
        transport: WatchTransport,
        *,
        namespace: str,
        channel: str,
        timeout_seconds: float,
        backoff: Backoff | None = None,
        backoff_reset_seconds: float = 60.0,
        max_seen: int = 100_000,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport = transport
        self.namespace = namespace
        self.channel = channel
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff or Backoff(initial=0.8, maximum=30.0)
        self.backoff_reset_seconds = backoff_reset_seconds
        self.seen = _Delivered(max_seen)
        self.status = WatchStatus(down_since=clock())
        self._sleep = sleep
        self._clock = clock
        self._wall = wall_clock
        self._started_wall = 0.0
        self._listed = False
        # Bus Events known to exist (pushsvc_bus_live_events): a relist counts them all; the
        # first list reads one item only, so until a relist it counts what arrived since, and
        # a deletion counts only for an Event it saw arrive.
        self._live = 0
        self._counted_all = False
        self._stopped = False
        self._log_skip = _LogOnce(10.0, clock)

    def stop(self) -> None:
        """Ask the loop to end after the current line (tests, shutdown)."""
        self._stopped = True

    # --- the loop ------------------------------------------------------------------
    def deliveries(self) -> Iterator[Delivery]:
        need_list = True
        rewind = False
        last_restart: _Restart | None = None
        while not self._stopped:
            opened = self._clock()
            try:
                if need_list:
                    yield from self._list(rewind=rewind)
                    need_list = rewind = False
                got_line = yield from self._watch_once()
                if self._stopped:
                    return
                if not got_line and self._clock() - opened >= self.timeout_seconds * 0.9:
                    # A watch from a version the server does not have yet waits silently
                    # (kubernetes#135452): after a quiet watch, check the server's version.
                    self._check_not_behind()
                raise _Restart("timeout" if self._clock() - opened >= self.timeout_seconds
                               * 0.9 else "closed", "the API server closed the watch")
            except _Restart as restart:
                need_list = need_list or restart.relist
                rewind = rewind or restart.rewind
                self._after_stream(restart, opened, last_restart)
                last_restart = restart
            except Exception as exc:  # a bug here must not become a hot restart loop
                logger.exception("bus watcher failed unexpectedly; relisting after a backoff")
                failure = _Restart("unexpected", f"{type(exc).__name__}: {exc}", relist=True)
                need_list = True
                self._after_stream(failure, opened, last_restart)
                last_restart = failure

    def _after_stream(self, restart: _Restart, opened: float, previous: _Restart | None) -> None:
        lived = self._clock() - opened
        if lived >= self.backoff_reset_seconds and self.status.up:
            self.backoff.reset()
        metrics.watch_restarts.labels(cause=restart.cause).inc()
        if restart.cause == "throttled":
            metrics.api_retries.labels(component="watcher", cause="throttled").inc()
        routine = restart.cause == "timeout" or (
            restart.cause == "closed" and lived >= 1.0
        ) or (restart.cause in ("expired", "rewound")
              and (previous is None or previous.cause != restart.cause))
        if routine:
            # a timeout end, an early close after a while, or a first 410: reconnect at once
            delay = 0.0
        elif restart.retry_after is not None:
            # 429 (API Priority and Fairness): not a moment before its Retry-After.
            delay = max(restart.retry_after, 0.05)
            self.backoff.next()
        else:
            delay = self.backoff.next()
        if restart.cause != "timeout":
            self._went_down(restart.detail if restart.cause not in ("closed", "expired",
                                                                    "rewound") else None)
            level = logging.INFO if routine and restart.cause != "rewound" else logging.WARNING
            logger.log(level, "bus watch restart (%s): %s; %s", restart.cause, restart.detail,
                       "reconnecting now" if delay == 0 else f"retrying in {delay:.1f} s")
        else:
            logger.debug("bus watch reached its %ss timeout; reconnecting", self.timeout_seconds)
        if delay:
            self._sleep(delay)

    def _went_down(self, cause: str | None) -> None:
        if self.status.up:
            self.status.up = False
            self.status.down_since = self._clock()
            metrics.watch_up.set(0)
        if cause is not None:
            self.status.cause = cause

    def _came_up(self) -> None:
        if not self.status.up:
            down_for = self._clock() - self.status.down_since
            self.status.up = True
            self.status.cause = ""
            metrics.watch_up.set(1)
            logger.info("bus watch up in namespace %s (channel %s) from resourceVersion %s "
                        "after %.1f s down", self.namespace, self.channel,
                        self.status.resource_version, down_for)

    # --- lists -----------------------------------------------------------------------
    def _pages(self, *, limit: int | None = None) -> Generator[ListPage, None, None]:
        try:
            yield from self.transport.list_pages(limit=limit)
        except ApiException as exc:
            raise self._api_restart(exc, verb="list") from exc
        except CONNECTION_ERRORS as exc:
            raise _Restart("connection", f"list failed: {type(exc).__name__}: {exc}") from exc
        except orjson.JSONDecodeError as exc:
            raise _Restart("stream_error", f"list body is not JSON: {exc}") from exc

    def _list(self, *, rewind: bool) -> Iterator[Delivery]:
        if not self._listed:
            yield from self._first_list()
            return
        metrics.relists.inc()
        resume = self.status.resource_version
        version = ""
        total = fresh = 0
        self.seen.hold = True
        for page in self._pages():
            if not version:
                version = page.resource_version
                if not rewind and _behind(version, resume):
                    rewind = True
                    logger.warning("bus list of namespace %s is at resourceVersion %s, behind "
                                   "this pod's %s (etcd restored from a backup?): resetting "
                                   "the watermark", self.namespace, version, resume)
                if rewind:
                    metrics.resource_version_resets.labels(cause="list_behind").inc()
                    self.seen.rewind(version)
            # Within a page, oldest first; pages come in name order (bounded memory wins).
            for item in sorted(page.items, key=_version_key):
                total += 1
                if rewind:
                    if self.seen.knows_uid(item) or self._created_before_start(item):
                        continue
                elif item in self.seen:
                    continue
                fresh += 1
                # Marked before it is handed out: a delivery is at most once, and a relist
                # that fails half-way resumes without repeating what it already delivered.
                self.seen.add(item)
                delivery = self._decode(item)
                if delivery is not None:
                    yield delivery
            del page  # not alive while the next page is read
        self.seen.listed(version)
        logger.info("bus relisted namespace %s%s: %d Events, %d not yet delivered",
                    self.namespace, " after a resourceVersion reset" if rewind else "", total,
                    fresh)
        self._set_live(total)
        self._counted_all = True
        self.status.resource_version = version

    def _set_live(self, count: int) -> None:
        self._live = max(0, count)
        metrics.live_events.set(self._live)

    def _first_list(self) -> Iterator[Delivery]:
        # Never replay what existed before this pod started, and do not read it either: one
        # item is enough to learn the list's resourceVersion.
        pages = self._pages(limit=1)
        try:
            first = next(pages, None)
        finally:
            pages.close()
        version = first.resource_version if first is not None else ""
        self.seen.start(version)
        if not version.isdigit():
            # Opaque versions (not kube-apiserver over etcd): only UIDs tell old from new.
            for page in self._pages():
                for item in page.items:
                    self.seen.add(item)
        self._listed = True
        self._started_wall = self._wall()
        self.status.resource_version = version
        logger.info("bus watching namespace %s (channel %s) from resourceVersion %s; existing "
                    "Events are not replayed", self.namespace, self.channel, version)
        return
        yield  # a generator, like _list

    def _check_not_behind(self) -> None:
        pages = self._pages(limit=1)
        try:
            first = next(pages, None)
        finally:
            pages.close()
        version = first.resource_version if first is not None else ""
        if _behind(version, self.status.resource_version):
            raise _Restart("rewound", f"the API server is at resourceVersion {version}, "
                           f"behind this pod's {self.status.resource_version} (etcd restored "
                           "from a backup?); relisting", rewind=True)

    def _created_before_start(self, item: dict[str, Any]) -> bool:
        created = (item.get("metadata") or {}).get("creationTimestamp")
        if not isinstance(created, str):
            return False
        try:
            when = dt.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return False
        # creationTimestamp has whole seconds: a second of tolerance
        return when < self._started_wall - 1.0

    # --- the watch -------------------------------------------------------------------
    def _watch_once(self) -> Generator[Delivery, None, bool]:
        opened = self._clock()
        got_line = False
        try:
            with self.transport.watch(self.status.resource_version) as lines:
                self._came_up()
                for line in lines:
                    got_line = True
                    yield from self._handle_line(line)
                    if self._stopped:
                        return got_line
                    if self.backoff.failures and self._clock() - opened >= \
                            self.backoff_reset_seconds:
                        self.backoff.reset()
        except ApiException as exc:
            raise self._api_restart(exc, verb="watch") from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise _Restart("read_timeout", "no data within the read timeout (half-open "
                           "connection?)") from exc
        except CONNECTION_ERRORS as exc:
            raise _Restart("connection", f"{type(exc).__name__}: {exc}") from exc
        if not got_line and self._clock() - opened < 1.0:
            raise _Restart("closed", "the API server closed the watch at once")
        return got_line

    def _handle_line(self, line: bytes) -> Iterator[Delivery]:
        read_at = self._wall()
        try:
            event = orjson.loads(line)
            kind = event["type"]
            obj = event["object"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise _Restart("stream_error", f"unreadable watch line: {exc}") from exc
        if not isinstance(obj, dict):
            raise _Restart("stream_error", f"watch line object is a {type(obj).__name__}")
        if kind == "ERROR":
            code = obj.get("code")
            message = str(obj.get("message", ""))[:300]
            if code == 410:
                raise _Restart("expired", f"resourceVersion {self.status.resource_version} is "
                               "too old (410 in the stream); relisting", relist=True)
            if code == 504 and _TOO_LARGE in message:
                raise self._too_large(message)
            raise _Restart("error", f"ERROR in the watch stream: {code} {message}")
        meta = obj.get("metadata")
        version = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if kind == "DELETED" and (self._counted_all or self.seen.knows_uid(obj)):
            self._set_live(self._live - 1)
        if kind == "ADDED" and obj not in self.seen:
            self._set_live(self._live + 1)
            self.seen.add(obj)
            delivery = self._decode(obj, read_at)
            if delivery is not None:
                yield delivery
        # BOOKMARK, MODIFIED, DELETED: nothing to deliver, but the stream is ordered, so
        # their version is a safe place to resume from.
        if isinstance(version, str | int) and version:
            self.status.resource_version = str(version)

    def _decode(self, obj: dict[str, Any], read_at: float | None = None) -> Delivery | None:
        metrics.events_received.inc()
        meta = obj.get("metadata")
        name = str(meta.get("name", "?") if isinstance(meta, dict) else "?")[:253]
        try:
            envelope = decode_event(obj)
            return Delivery(envelope, _uid(obj), envelope.ts,
                            self._wall() if read_at is None else read_at,
                            _numeric_version(obj) or 0)
        except PayloadRefusedError as exc:
            reason, text = exc.reason, str(exc)
        except SchemaVersionError as exc:
            reason, text = "schema", str(exc)
        except WireError as exc:
            reason, text = "invalid", str(exc)
        except Exception as exc:  # anything else an Event can provoke: skip it, never stop
            reason, text = "error", f"{type(exc).__name__}"
        metrics.events_invalid.inc()
        metrics.events_skipped.labels(reason=reason).inc()
        self._log_skip(reason, logging.WARNING, "bus skipped Event %s (%s): %s", name, reason, text)
        return None

    def _too_large(self, message: str) -> _Restart:
        metrics.resource_version_resets.labels(cause="too_large").inc()
        return _Restart("rewound", f"resourceVersion {self.status.resource_version} is ahead "
                        f"of the API server ({message}); relisting from the current version",
                        rewind=True)

    def _api_restart(self, exc: ApiException, *, verb: str) -> _Restart:
        status = exc.status or 0
        if status == 410:
            return _Restart("expired", f"{verb}: 410 Gone; relisting", relist=True)
        if status == 403:
            return _Restart("forbidden", forbidden_message(exc, verb=verb,
                                                           namespace=self.namespace,
                                                           grant=RBAC_API))
        if status == 429:
            return _Restart("throttled", f"{verb}: 429 Too Many Requests",
                            retry_after=retry_after_seconds(exc))
        if status == 504 and _TOO_LARGE in status_message(exc):
            # client-go's reflector relists from resourceVersion="" (kubernetes#92537)
            return self._too_large(status_message(exc))
        if status >= 500:
            return _Restart("server_error", f"{verb}: HTTP {status} {status_message(exc)}")
        return _Restart("api_error", f"{verb}: HTTP {status} {status_message(exc)}")


_TOO_LARGE = "Too large resource version"


def _behind(version: str, resume: str) -> bool:
    """True when the server's ``version`` is below this watcher's ``resume`` point."""
    return version.isdigit() and resume.isdigit() and int(version) < int(resume)


def _uid(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ""
    return str(meta.get("uid") or meta.get("name") or "")


def _numeric_version(obj: dict[str, Any]) -> int | None:
    meta = obj.get("metadata")
    version = str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""
    return int(version) if version.isdigit() and len(version) < 20 else None


def _version_key(obj: dict[str, Any]) -> tuple[int, str]:
    version = _numeric_version(obj)
    # resourceVersions are opaque; numeric ones sort numerically, anything else keeps order.
    return (version, "") if version is not None else (0, "")
