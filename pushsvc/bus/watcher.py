"""The bus watcher: list, then watch core/v1 Events from the list's version, forever.

Rules (README "Watcher"): list with the channel's label selector and remember the list's
resourceVersion — Events that existed before start are never replayed; watch from it with a
server ``timeoutSeconds`` *and* a client read timeout (a half-open connection otherwise hangs
forever); resume from the last resourceVersion seen in the stream; on 410 (HTTP status or an
ERROR line) list again and deliver only what was not delivered yet (a resourceVersion
watermark plus a bounded set of UIDs, :class:`_Delivered`);
skip BOOKMARK/MODIFIED/DELETED (TTL expiry sends DELETED); back off with jitter, honour
Retry-After, reset after a healthy period; log each restart once with its cause.

Watch lines are parsed with orjson straight from the socket (``_preload_content=False``): the
generated client's model deserialisation costs ~20x more per Event.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.codec import decode_event
from emitter.errors import WireError
from emitter.kube import (
    CONNECTION_ERRORS,
    RBAC_API,
    Backoff,
    events_path,
    forbidden_message,
    raw_request,
    retry_after_seconds,
    status_message,
)
from emitter.model import Envelope
from pushsvc.bus import metrics

logger = logging.getLogger(__name__)


class WatchTransport(Protocol):
    """What the watcher needs from the API: a list and a stream of raw watch lines."""

    def list(self) -> tuple[list[dict[str, Any]], str]: ...

    def watch(self, resource_version: str) -> contextlib.AbstractContextManager[Iterator[bytes]]:
        ...


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

    def list(self) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        version = ""
        token = ""
        while True:
            query = [("labelSelector", self.label_selector), ("limit", str(self.page_size))]
            if token:
                query.append(("continue", token))
            resp = raw_request(self.api_client, "GET", events_path(self.namespace), query=query,
                               timeout=(self.connect_timeout_seconds, self.read_timeout_seconds))
            body = orjson.loads(resp.data)
            meta = body.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            items.extend(body.get("items") or [])
            token = meta.get("continue") or ""
            if not token:
                return items, version

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
    of old Events at the next relist, however many Events the namespace holds. With opaque
    (non-numeric) versions the watermark is off and only the UIDs count.
    """

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.upto: int | None = None
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

    def add(self, obj: dict[str, Any]) -> None:
        self._uids[_uid(obj)] = _numeric_version(obj)
        if len(self._uids) > self.maxlen:
            _, version = self._uids.popitem(last=False)
            if self.upto is not None and version is not None:
                self.upto = max(self.upto, version)

    def reset(self, items: list[dict[str, Any]], list_version: str) -> None:
        """After a list whose items were all delivered or skipped: start over from its version."""
        if list_version.isdigit():
            self.upto = int(list_version)
            # A consistent list holds nothing newer than its own version; should one
            # (a non-snapshot paginated list), remember it so the watch cannot repeat it.
            self._uids = OrderedDict(
                (_uid(i), v) for i in items
                if (v := _numeric_version(i)) is not None and v > self.upto
            )
        else:
            self.upto = None
            self._uids = OrderedDict((_uid(i), None) for i in items[-self.maxlen:])


@dataclass
class WatchStatus:
    """For readiness: is the watch up, since when is it down, and why."""

    up: bool = False
    down_since: float = field(default_factory=time.monotonic)
    cause: str = "starting"
    resource_version: str = ""


@dataclass(frozen=True)
class Delivery:
    """One valid bus Event: its envelope, UID and the time it was created (Unix seconds)."""

    envelope: Envelope
    uid: str
    created: float


class _Restart(Exception):
    """Ends one watch stream; ``cause`` is the metrics label, ``detail`` the log text."""

    def __init__(self, cause: str, detail: str, *, relist: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.relist = relist
        self.retry_after = retry_after


class EventWatcher:
    """Yields :class:`Delivery` objects for new bus Events, surviving every API failure."""

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
        self._listed = False
        self._stopped = False

    def stop(self) -> None:
        """Ask the loop to end after the current line (tests, shutdown)."""
        self._stopped = True

    # --- the loop ------------------------------------------------------------------
    def deliveries(self) -> Iterator[Delivery]:
        need_list = True
        last_restart: _Restart | None = None
        while not self._stopped:
            opened = self._clock()
            try:
                if need_list:
                    yield from self._list()
                    need_list = False
                yield from self._watch_once()
                raise _Restart("closed", "the API server closed the watch")
            except _Restart as restart:
                need_list = need_list or restart.relist
                self._after_stream(restart, opened, last_restart)
                last_restart = restart

    def _after_stream(self, restart: _Restart, opened: float, previous: _Restart | None) -> None:
        lived = self._clock() - opened
        if lived >= self.backoff_reset_seconds and self.status.up:
            self.backoff.reset()
        metrics.watch_restarts.labels(cause=restart.cause).inc()
        routine = restart.cause == "timeout" or (
            restart.cause == "closed" and lived >= 1.0
        ) or (restart.cause == "expired" and (previous is None or previous.cause != "expired"))
        if routine:
            # a timeout end, an early close after a while, or a first 410: reconnect at once
            delay = 0.0
        elif restart.retry_after is not None:
            delay = max(restart.retry_after, 0.05)
            self.backoff.next()
        else:
            delay = self.backoff.next()
        if restart.cause != "timeout":
            self._went_down(restart.detail if restart.cause not in ("closed", "expired")
                            else None)
            level = logging.INFO if routine else logging.WARNING
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

    def _list(self) -> Iterator[Delivery]:
        try:
            items, version = self.transport.list()
        except ApiException as exc:
            raise self._api_restart(exc, verb="list") from exc
        except CONNECTION_ERRORS as exc:
            raise _Restart("connection", f"list failed: {type(exc).__name__}: {exc}") from exc
        except orjson.JSONDecodeError as exc:
            raise _Restart("stream_error", f"list body is not JSON: {exc}") from exc
        items.sort(key=_version_key)
        metrics.live_events.set(len(items))
        if not self._listed:
            # Never replay what existed before this pod started: only remember it.
            self.seen.reset(items, version)
            self._listed = True
            logger.info("bus listed %d existing Events in namespace %s (channel %s); watching "
                        "from resourceVersion %s", len(items), self.namespace, self.channel,
                        version)
        else:
            metrics.relists.inc()
            fresh = [i for i in items if i not in self.seen]
            logger.info("bus relisted namespace %s: %d Events, %d not yet delivered",
                        self.namespace, len(items), len(fresh))
            self.seen.reset(items, version)
            for item in fresh:
                delivery = self._decode(item)
                if delivery is not None:
                    yield delivery
        self.status.resource_version = version

    def _watch_once(self) -> Iterator[Delivery]:
        opened = self._clock()
        got_line = False
        try:
            with self.transport.watch(self.status.resource_version) as lines:
                self._came_up()
                for line in lines:
                    got_line = True
                    yield from self._handle_line(line)
                    if self._stopped:
                        return
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
        if self._clock() - opened >= self.timeout_seconds * 0.9:
            raise _Restart("timeout", "server timeout reached")
        if not got_line and self._clock() - opened < 1.0:
            raise _Restart("closed", "the API server closed the watch at once")

    def _handle_line(self, line: bytes) -> Iterator[Delivery]:
        try:
            event = orjson.loads(line)
            kind = event["type"]
            obj = event["object"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise _Restart("stream_error", f"unreadable watch line: {exc}") from exc
        if kind == "ERROR":
            code = obj.get("code") if isinstance(obj, dict) else None
            message = obj.get("message", "") if isinstance(obj, dict) else ""
            if code == 410:
                raise _Restart("expired", f"resourceVersion {self.status.resource_version} is "
                               "too old (410 in the stream); relisting", relist=True)
            raise _Restart("error", f"ERROR in the watch stream: {code} {message}")
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "ADDED":
            if obj not in self.seen:
                metrics.live_events.inc()
                self.seen.add(obj)
                delivery = self._decode(obj)
                if delivery is not None:
                    yield delivery
        elif kind == "DELETED":
            metrics.live_events.dec()
        # BOOKMARK, MODIFIED, DELETED: nothing to deliver, but the stream is ordered, so
        # their version is a safe place to resume from.
        if version:
            self.status.resource_version = str(version)

    def _decode(self, obj: dict[str, Any]) -> Delivery | None:
        metrics.events_received.inc()
        name = (obj.get("metadata") or {}).get("name", "?")
        try:
            envelope = decode_event(obj)
        except WireError as exc:
            metrics.events_invalid.inc()
            logger.warning("bus skipped invalid Event %s: %s", name, exc)
            return None
        return Delivery(envelope, _uid(obj), envelope.ts)

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
        if status >= 500:
            return _Restart("server_error", f"{verb}: HTTP {status} {status_message(exc)}")
        return _Restart("api_error", f"{verb}: HTTP {status} {status_message(exc)}")


def _uid(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or meta.get("name") or "")


def _numeric_version(obj: dict[str, Any]) -> int | None:
    version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return int(version) if version.isdigit() else None


def _version_key(obj: dict[str, Any]) -> tuple[int, str]:
    version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    # resourceVersions are opaque; numeric ones sort numerically, anything else keeps order.
    return (int(version), "") if version.isdigit() else (0, version)
