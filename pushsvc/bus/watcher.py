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

The loop itself (list, watch, resume, relist, back off) is pushsvc/kube/watching.py's, shared
with the Job notifier and presence; this module says what a list and a line mean to the bus.
Watch lines are parsed with orjson straight from the socket (``_preload_content=False``): the
generated client's model deserialisation costs ~20x more per Event.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.wire import (
    RBAC_API,
    Backoff,
    Envelope,
    PayloadRefusedError,
    SchemaVersionError,
    WireError,
    decode_event,
    events_path,
    forbidden_message,
)
from pushsvc.bus import metrics
from pushsvc.bus.delivered import Delivered, numeric_version, uid_of, version_key
from pushsvc.kube import watching
from pushsvc.kube.watching import ListPage, ListWatch, Restart, WatchTransport

logger = logging.getLogger(__name__)


class KubeTransport(watching.KubeTransport):
    """The bus's transport: the namespace's Events with the channel's label selector."""

    def __init__(self, api_client: ApiClient, *, namespace: str, label_selector: str,
                 timeout_seconds: int, read_timeout_seconds: float,
                 connect_timeout_seconds: float = 10.0, page_size: int = 500) -> None:
        super().__init__(api_client, path=events_path(namespace), label_selector=label_selector,
                         timeout_seconds=timeout_seconds,
                         read_timeout_seconds=read_timeout_seconds,
                         connect_timeout_seconds=connect_timeout_seconds, page_size=page_size)
        self.namespace = namespace


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


class EventWatcher(ListWatch[Delivery]):
    """Yields :class:`Delivery` objects for new bus Events, surviving every API failure.

    Nothing an Event holds can stop it: an Event that cannot be decoded, for whatever reason,
    is skipped, counted and logged (rate-limited), and still marked as handled.
    """

    what = "bus"

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
        super().__init__(transport, timeout_seconds=timeout_seconds, forbidden=self._forbidden_text,
                         backoff=backoff, backoff_reset_seconds=backoff_reset_seconds,
                         sleep=sleep, clock=clock)
        self.namespace = namespace
        self.channel = channel
        self.seen = Delivered(max_seen)
        self.status = WatchStatus(down_since=clock())
        self._wall = wall_clock
        self._started_wall = 0.0
        self._listed = False
        # Bus Events known to exist (pushsvc_bus_live_events): a relist counts them all; the
        # first list reads one item only, so until a relist it counts what arrived since, and
        # a deletion counts only for an Event it saw arrive.
        self._live = 0
        self._counted_all = False
        self._log_skip = _LogOnce(10.0, clock)

    def deliveries(self) -> Iterator[Delivery]:
        """The loop: list, watch, relist, forever (until :meth:`stop`)."""
        return self.watch_forever()

    def _forbidden_text(self, exc: ApiException, verb: str) -> str:
        return forbidden_message(exc, verb=verb, namespace=self.namespace, grant=RBAC_API)

    def _after_stream(self, restart: Restart, opened: float, previous: Restart | None) -> None:
        lived = self._clock() - opened
        metrics.watch_restarts.labels(cause=restart.cause).inc()
        if restart.cause == "throttled":
            metrics.api_retries.labels(component="watcher", cause="throttled").inc()
        if restart.too_large:
            metrics.resource_version_resets.labels(cause="too_large").inc()
        delay = self._delay(restart, lived, previous, healthy=self.status.up)
        if restart.cause != "timeout":
            self._went_down(restart.detail if restart.cause not in ("closed", "expired",
                                                                    "rewound") else None)
            routine = self.routine(restart, lived, previous)
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

    def _opened(self, stream: object) -> None:
        if not self.status.up:
            down_for = self._clock() - self.status.down_since
            self.status.up = True
            self.status.cause = ""
            metrics.watch_up.set(1)
            logger.info("bus watch up in namespace %s (channel %s) from resourceVersion %s "
                        "after %.1f s down", self.namespace, self.channel,
                        self.resource_version, down_for)

    # --- lists -----------------------------------------------------------------------
    def _list(self, *, rewind: bool) -> Iterator[Delivery]:
        if not self._listed:
            yield from self._first_list()
            return
        metrics.relists.inc()
        resume = self.resource_version
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
            for item in sorted(page.items, key=version_key):
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
        self.resource_version = self.status.resource_version = version

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
        self.resource_version = self.status.resource_version = version
        logger.info("bus watching namespace %s (channel %s) from resourceVersion %s; existing "
                    "Events are not replayed", self.namespace, self.channel, version)
        return
        yield  # a generator, like _list

    def _after_quiet_watch(self) -> None:
        pages = self._pages(limit=1)
        try:
            first = next(pages, None)
        finally:
            pages.close()
        version = first.resource_version if first is not None else ""
        if _behind(version, self.resource_version):
            raise Restart("rewound", f"the API server is at resourceVersion {version}, "
                          f"behind this pod's {self.resource_version} (etcd restored "
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
    def _handle_line(self, line: bytes) -> Iterator[Delivery]:
        read_at = self._wall()
        kind, obj = watching.parse_line(line, resume=self.resource_version)
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
        version = watching.version_of(obj)
        if version:
            self.resource_version = self.status.resource_version = version

    def _decode(self, obj: dict[str, Any], read_at: float | None = None) -> Delivery | None:
        metrics.events_received.inc()
        meta = obj.get("metadata")
        name = str(meta.get("name", "?") if isinstance(meta, dict) else "?")[:253]
        try:
            envelope = decode_event(obj)
            return Delivery(envelope, uid_of(obj), envelope.ts,
                            self._wall() if read_at is None else read_at,
                            numeric_version(obj) or 0)
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


def _behind(version: str, resume: str) -> bool:
    """True when the server's ``version`` is below this watcher's ``resume`` point."""
    return version.isdigit() and resume.isdigit() and int(version) < int(resume)


__all__ = ["Delivery", "EventWatcher", "KubeTransport", "ListPage", "WatchStatus",
           "WatchTransport"]
