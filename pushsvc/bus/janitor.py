"""The retention janitor: bus Events are deleted once older than the retention window.

Every bus Event would otherwise live for the API server's event TTL (1 h): at 100
notifications/s that is ~360,000 live Events, all read again by every pod's relist. One pod at
a time deletes them after a few minutes instead:

- **One janitor**, elected with a ``coordination.k8s.io/v1`` Lease exactly as client-go's
  ``tools/leaderelection`` does with a ``LeaseLock``: get the Lease; create it if missing (409:
  another candidate won); otherwise take it only when its holder is empty or has not renewed
  for ``leaseDurationSeconds`` *as observed on this pod's clock* (no clock comparison across
  pods), writing it back with the resourceVersion read (409 Conflict: someone wrote in
  between, try again later). The leader renews every retry period and stops working as soon
  as it has not renewed for the renew deadline, which is shorter than the lease duration, so
  its successor starts only after it stopped. On shutdown it releases the Lease (empty holder,
  1 s duration) so another pod takes over at once.
- **Only bus Events**: the list uses the channel's label selector and every item's label is
  checked again before it is deleted.
- **Safe deletes**: by name, with ``preconditions`` on uid and resourceVersion, so an Event
  updated or re-created under the same name since the list is never deleted wrongly (409).
  404 (already gone: TTL, or the previous leader during a handover) and 409 are normal
  outcomes, counted, not errors.
- **Paced**: at most ``deletes_per_second`` (a token bucket), page by page (bounded memory), so
  a backlog never bursts the API server.
- **Throttled** (429, API Priority and Fairness): nothing is sent again before the answer's
  ``Retry-After`` — the Lease round waits for it, the next pass waits for it, and deletes pause
  for it (the throttled one is left for the next pass). Counted in
  ``pushsvc_bus_api_retries_total{component="janitor"}``.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.wire import (
    CHANNEL_LABEL,
    CONNECTION_ERRORS,
    events_path,
    raw_request,
    retry_after_seconds,
    status_message,
)
from pushsvc.bus import metrics

if TYPE_CHECKING:
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

#: Which file grants the janitor's verbs, named in every 403 message.
RBAC_JANITOR = ("rbac/api.yaml", "pushsvc-api")
LEASE_API = "/apis/coordination.k8s.io/v1"
#: client-go's wait.JitterUntil factor for the acquire loop.
_JITTER = 1.2
_REQUEST_TIMEOUT = (5.0, 10.0)


class JanitorPermissionError(Exception):
    """A 403: the message names the verb, resource, namespace and the rbac/ file to apply."""


def microtime(ts: float | None = None) -> str:
    """metav1.MicroTime as the API server writes it: RFC 3339 with microseconds, UTC."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def permission_message(exc: ApiException, *, verb: str, resource: str, namespace: str,
                       name: str | None = None) -> str:
    rbac_file, service_account = RBAC_JANITOR
    what = f"{resource} {name!r}" if name else resource
    return (
        f"retention janitor forbidden: cannot {verb} {what} in namespace {namespace!r}; apply "
        f"{rbac_file} (grants delete on events, get/update on the janitor Lease and create on "
        f"leases to ServiceAccount {service_account}) and run the pods as that ServiceAccount. "
        f"The API server said: {status_message(exc)}"
    )


@dataclass(frozen=True, slots=True)
class JanitorOptions:
    """Timings and bounds of one janitor (from the ``PUSHSVC_RETENTION_*`` / ``JANITOR_*``
    settings); client-go's leader-election defaults are 15 s / 10 s / 2 s."""

    retention_seconds: float = 300.0
    interval_seconds: float = 30.0
    deletes_per_second: float = 200.0
    lease_name: str = "pushsvc-janitor"
    lease_duration_seconds: int = 15
    renew_deadline_seconds: float = 10.0
    retry_period_seconds: float = 2.0
    page_size: int = 500
    #: Deletes in flight at once: one at a time, a round trip of 10 ms caps the janitor at
    #: 100 deletes/s, below what a busy bus creates. The token bucket still sets the rate.
    deletes_in_flight: int = 4


class LeaseElector:
    """client-go's LeaderElector over one Lease (``tryAcquireOrRenew`` and ``release``)."""

    def __init__(self, api_client: ApiClient, *, namespace: str, name: str, identity: str,
                 lease_duration_seconds: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration_seconds = lease_duration_seconds
        self._clock = clock
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._lease: dict[str, Any] | None = None  # as last read or written
        self.holder = ""  # the holder as last observed
        #: After a 429: no Lease request before this (monotonic), the answer's Retry-After.
        self.not_before = 0.0

    @property
    def _path(self) -> str:
        return f"{LEASE_API}/namespaces/{self.namespace}/leases"

    def _call(self, method: str, path: str, body: Any = None, *, verb: str,
              name: str | None) -> dict[str, Any]:
        try:
            response = raw_request(self.api_client, method, path, body=body,
                                   timeout=_REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 403:
                raise JanitorPermissionError(permission_message(
                    exc, verb=verb, resource="leases.coordination.k8s.io",
                    namespace=self.namespace, name=name)) from exc
            if exc.status == 429:
                self.not_before = self._clock() + throttled_for(exc)
            raise
        try:
            result: dict[str, Any] = orjson.loads(response.read())
        finally:
            response.release_conn()
        return result

    def _spec(self, *, acquire_time: str, transitions: int, now: str) -> dict[str, Any]:
        return {"holderIdentity": self.identity,
                "leaseDurationSeconds": self.lease_duration_seconds,
                "acquireTime": acquire_time, "renewTime": now,
                "leaseTransitions": transitions}

    def try_acquire_or_renew(self) -> bool:
        """One round: True when this pod holds the Lease afterwards.

        Raises :class:`JanitorPermissionError` on a 403; other API errors are a False round.
        """
        now = microtime()
        try:
            lease = self._call("GET", f"{self._path}/{self.name}", verb="get", name=self.name)
        except ApiException as exc:
            if exc.status != 404:
                logger.warning("janitor: cannot read Lease %s/%s: HTTP %s %s", self.namespace,
                               self.name, exc.status, status_message(exc))
                return False
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(acquire_time=now, transitions=0, now=now)}
            try:
                self._lease = self._call("POST", self._path, body, verb="create", name=None)
            except ApiException as exc2:  # 409: another candidate created it first
                if exc2.status != 409:
                    logger.warning("janitor: cannot create Lease %s/%s: HTTP %s %s",
                                   self.namespace, self.name, exc2.status,
                                   status_message(exc2))
                return False
            self._observe(self._lease)
            return True
        except CONNECTION_ERRORS as exc:
            logger.warning("janitor: cannot reach the API server for the Lease: %s", exc)
            return False
        self._observe(lease)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        duration = spec.get("leaseDurationSeconds") or self.lease_duration_seconds
        if holder and holder != self.identity and \
                self._observed_at + duration > self._clock():
            return False  # held by another pod that renewed within its duration
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            acquire_time = spec.get("acquireTime") or now
        else:
            acquire_time = now
            transitions += 1
        updated = {**lease, "spec": self._spec(acquire_time=acquire_time,
                                              transitions=transitions, now=now)}
        try:
            self._lease = self._call("PUT", f"{self._path}/{self.name}", updated,
                                     verb="update", name=self.name)
        except ApiException as exc:  # 409 Conflict: another pod wrote since our read
            if exc.status != 409:
                logger.warning("janitor: cannot update Lease %s/%s: HTTP %s %s",
                               self.namespace, self.name, exc.status, status_message(exc))
            return False
        except CONNECTION_ERRORS as exc:
            logger.warning("janitor: cannot reach the API server for the Lease: %s", exc)
            return False
        self._observe(self._lease)
        return True

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        record = (spec.get("holderIdentity"), spec.get("leaseDurationSeconds"),
                  spec.get("acquireTime"), spec.get("renewTime"),
                  spec.get("leaseTransitions"))
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock()
        self.holder = spec.get("holderIdentity") or ""

    def release(self) -> bool:
        """Give the Lease up (empty holder, 1 s duration) if this pod holds it."""
        lease = self._lease
        if lease is None or self.holder != self.identity:
            return True
        now = microtime()
        spec = lease.get("spec") or {}
        body = {**lease, "spec": {"leaseDurationSeconds": 1, "acquireTime": now,
                                  "renewTime": now,
                                  "leaseTransitions": spec.get("leaseTransitions") or 0}}
        try:
            try:
                self._lease = self._call("PUT", f"{self._path}/{self.name}", body,
                                         verb="update", name=self.name)
            except CONNECTION_ERRORS as exc:
                raise ConnectionError(str(exc)) from exc
        except (ApiException, JanitorPermissionError, ConnectionError) as exc:
            logger.warning("janitor: could not release Lease %s/%s: %s", self.namespace,
                           self.name, exc)
            return False
        self.holder = ""
        return True


@dataclass(slots=True)
class PassResult:
    """What one sweep did (outcome → count), and whether it went through every page."""

    outcomes: dict[str, int]
    seen: int = 0
    complete: bool = False


class Janitor:
    """Deletes bus Events older than the retention window, while this pod holds the Lease.

    :param api_client: a configured ``kubernetes.client.ApiClient``.
    :param namespace: the bus namespace.
    :param label_key: the bus label; :param channel: its value (this bus's channel).
    :param identity: this pod's holder identity (unique per process).
    """

    def __init__(self, api_client: ApiClient, *, namespace: str, label_key: str, channel: str,
                 identity: str, options: JanitorOptions | None = None) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.label_key = label_key
        self.channel = channel
        self.identity = identity
        self.options = options or JanitorOptions()
        self.elector = LeaseElector(api_client, namespace=namespace,
                                    name=self.options.lease_name, identity=identity,
                                    lease_duration_seconds=self.options.lease_duration_seconds)
        self._stop = threading.Event()
        self._renewed_at = -math.inf
        self._leading = False
        self._threads: list[threading.Thread] = []
        self._next_delete = 0.0
        self._not_before = 0.0  # after a throttled list: no pass before this (monotonic)
        self._forbidden_logged: set[str] = set()
        lease = self.options.lease_name
        # Until a first pass the series holds the janitor's start, so the "janitor not
        # running" alert counts from the start of a pod that never finishes a pass.
        metrics.janitor_last_run.labels(lease=lease).set(time.time())
        metrics.janitor_leader.labels(lease=lease).set(0)

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start the election and sweep loops (greenlets under gevent's patched threading)."""
        if self._threads:
            return
        for target in (self._elect_loop, self._sweep_loop):
            thread = threading.Thread(target=target, name=f"janitor-{target.__name__}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info("janitor: candidate %s for Lease %s/%s (retention %.0f s, %.0f deletes/s)",
                    self.identity, self.namespace, self.options.lease_name,
                    self.options.retention_seconds, self.options.deletes_per_second)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both loops and release the Lease if held."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._leading or self.elector.holder == self.identity:
            released = self.elector.release()
            logger.info("janitor: stopped; Lease %s/%s %s", self.namespace,
                        self.options.lease_name, "released" if released else "not released")
        self._set_leading(False)

    @property
    def leading(self) -> bool:
        """Holds the Lease and renewed it within the renew deadline (checked before work)."""
        return self._leading and (
            time.monotonic() - self._renewed_at < self.options.renew_deadline_seconds)

    def _set_leading(self, value: bool) -> None:
        if value != self._leading:
            self._leading = value
            metrics.janitor_leader.labels(lease=self.options.lease_name).set(int(value))
            if value:
                logger.info("janitor: %s acquired Lease %s/%s; deleting bus Events older than "
                            "%.0f s", self.identity, self.namespace, self.options.lease_name,
                            self.options.retention_seconds)
            elif not self._stop.is_set():
                logger.warning("janitor: %s lost Lease %s/%s (not renewed within %.1f s)",
                               self.identity, self.namespace, self.options.lease_name,
                               self.options.renew_deadline_seconds)

    # --- election ----------------------------------------------------------------------
    def _elect_loop(self) -> None:
        retry = self.options.retry_period_seconds
        while not self._stop.is_set():
            try:
                ok = self.elector.try_acquire_or_renew()
            except JanitorPermissionError as exc:
                self._forbidden(str(exc))
                ok = False
            except Exception:  # a bug must not end the election loop
                logger.exception("janitor: Lease round failed unexpectedly")
                ok = False
            if ok:
                self._renewed_at = time.monotonic()
                self._set_leading(True)
            elif self._leading and not self.leading:
                self._set_leading(False)
            # Candidates retry with jitter (client-go JitterUntil); the leader renews on time,
            # unless the API server asked it to wait (429 Retry-After).
            wait = retry if self._leading else retry * (1 + random.random() * _JITTER)
            self._stop.wait(max(wait, self.elector.not_before - time.monotonic()))

    def _forbidden(self, message: str) -> None:
        if message not in self._forbidden_logged:
            self._forbidden_logged.add(message)
            logger.error("%s", message)

    # --- sweeping ----------------------------------------------------------------------
    def _sweep_loop(self) -> None:
        last = -math.inf
        while not self._stop.is_set():
            if self.leading and time.monotonic() - last >= self.options.interval_seconds \
                    and time.monotonic() >= self._not_before:
                last = time.monotonic()
                try:
                    self.sweep()
                except Exception:  # a bug must not end the janitor: log it whole
                    logger.exception("janitor: pass failed unexpectedly")
            self._stop.wait(min(self.options.retry_period_seconds,
                                self.options.interval_seconds))

    def sweep(self, *, require_lease: bool = True) -> PassResult:
        """One pass over the bus Events, page by page; deletes those past the retention.

        ``require_lease=False`` runs it without holding the Lease (tests and tools).
        """
        started = time.monotonic()
        cutoff = time.time() - self.options.retention_seconds
        result = PassResult(outcomes={})
        pool = _DeletePool(self.delete, result.outcomes, size=self.options.deletes_in_flight)
        try:
            for item in self._expired(cutoff, result):
                if self._stop.is_set() or (require_lease and not self.leading):
                    logger.info("janitor: pass stopped early (%s)", "shutdown" if
                                self._stop.is_set() else "Lease lost")
                    return result
                if result.outcomes.get("forbidden"):
                    return result
                self._pace()
                pool.submit(item)
        except JanitorPermissionError as exc:
            self._forbidden(str(exc))
            return result
        except ApiException as exc:
            wait = self.options.interval_seconds
            if exc.status == 429:
                self._not_before = time.monotonic() + throttled_for(exc)
                wait = max(wait, self._not_before - time.monotonic())
            logger.warning("janitor: listing bus Events failed: HTTP %s %s; next pass in "
                           "%.0f s", exc.status, status_message(exc), wait)
            return result
        except CONNECTION_ERRORS as exc:
            logger.warning("janitor: cannot reach the API server: %s", exc)
            return result
        finally:
            pool.close()
        if result.outcomes.get("forbidden"):
            return result
        result.complete = True
        metrics.janitor_last_run.labels(lease=self.options.lease_name).set(time.time())
        metrics.janitor_pass_seconds.labels(lease=self.options.lease_name).set(
            time.monotonic() - started)
        deleted = result.outcomes.get("deleted", 0)
        if deleted or len(result.outcomes) > 1:
            logger.info("janitor: pass over %d bus Events: %s", result.seen,
                        ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())))
        return result

    def _expired(self, cutoff: float, result: PassResult) -> Iterator[dict[str, Any]]:
        """Bus Events created before ``cutoff``, one page in memory at a time."""
        query = [("labelSelector", f"{self.label_key}={self.channel}"),
                 ("limit", str(self.options.page_size))]
        token = ""
        while True:
            page_query = [*query, ("continue", token)] if token else query
            try:
                response = raw_request(self.api_client, "GET", events_path(self.namespace),
                                       query=page_query, timeout=_REQUEST_TIMEOUT)
            except ApiException as exc:
                if exc.status == 403:
                    raise JanitorPermissionError(permission_message(
                        exc, verb="list", resource="events",
                        namespace=self.namespace)) from exc
                raise
            try:
                page = orjson.loads(response.read())
            finally:
                response.release_conn()
            for item in page.get("items") or ():
                result.seen += 1
                meta = item.get("metadata") or {}
                # The selector already chose them; a second look keeps anything else safe
                # even from a server that ignored the selector.
                if (meta.get("labels") or {}).get(self.label_key) != self.channel:
                    continue
                try:
                    created = _parse_time(meta["creationTimestamp"])
                except (KeyError, ValueError):
                    continue
                if created < cutoff:
                    yield item
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    def _pace(self) -> None:
        """A token bucket of ``deletes_per_second`` (no burst beyond one)."""
        now = time.monotonic()
        if self._next_delete > now:
            self._stop.wait(self._next_delete - now)
            now = time.monotonic()
        self._next_delete = max(self._next_delete, now) + 1.0 / self.options.deletes_per_second

    def delete(self, item: dict[str, Any]) -> str:
        """Delete one listed Event if unchanged; returns the outcome (also counted).

        ``deleted``; ``gone`` (404: TTL or another janitor first); ``conflict`` (409: updated
        or re-created since the list); ``forbidden``; ``throttled`` (429: deletes pause for its
        Retry-After, this one waits for the next pass); ``error``.
        """
        meta = item["metadata"]
        name = meta["name"]
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {"uid": meta.get("uid"),
                                  "resourceVersion": meta.get("resourceVersion")}}
        outcome = "deleted"
        try:
            response = raw_request(self.api_client, "DELETE",
                                   f"{events_path(self.namespace)}/{name}", body=body,
                                   timeout=_REQUEST_TIMEOUT)
            response.drain_conn()
            response.release_conn()
        except ApiException as exc:
            if exc.status == 404:
                outcome = "gone"
            elif exc.status == 409:
                outcome = "conflict"
            elif exc.status == 403:
                outcome = "forbidden"
                self._forbidden(permission_message(exc, verb="delete", resource="events",
                                                   namespace=self.namespace))
            elif exc.status == 429:
                outcome = "throttled"
                self._next_delete = max(self._next_delete,
                                        time.monotonic() + throttled_for(exc))
            else:
                outcome = "error"
                logger.warning("janitor: deleting Event %s failed: HTTP %s %s", name,
                               exc.status, status_message(exc))
        except CONNECTION_ERRORS as exc:
            outcome = "error"
            logger.warning("janitor: deleting Event %s failed: %s", name, exc)
        metrics.janitor_deletions.labels(outcome=outcome).inc()
        return outcome


def throttled_for(exc: ApiException) -> float:
    """How long to send nothing after this 429: its Retry-After (1 s without one); counted."""
    metrics.api_retries.labels(component="janitor", cause="throttled").inc()
    return retry_after_seconds(exc) or 1.0


class _DeletePool:
    """A few deleter threads (greenlets under gevent) fed through a small bounded queue."""

    def __init__(self, delete: Callable[[dict[str, Any]], str], outcomes: dict[str, int], *,
                 size: int) -> None:
        self._delete = delete
        self._outcomes = outcomes
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=size)
        self._threads = [threading.Thread(target=self._work, name=f"janitor-delete-{k}",
                                          daemon=True) for k in range(max(1, size))]
        for thread in self._threads:
            thread.start()

    def submit(self, item: dict[str, Any]) -> None:
        self._queue.put(item)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._outcomes.get("forbidden"):
                continue  # one 403 is enough: the rest of the pass would be refused too
            try:
                outcome = self._delete(item)
            except Exception:  # a bug must not leave the pass waiting for this worker
                logger.exception("janitor: delete failed unexpectedly")
                outcome = "error"
            self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1

    def close(self) -> None:
        """Wait for the deletes already handed over, then end the workers."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()


def make_janitor(settings: Settings, api_client: ApiClient, *, namespace: str, channel: str,
                 host_id: str) -> Janitor:
    """The janitor of one pod, from the settings; its identity is the pod name (or host name)
    plus the manager's host_id, unique per process as a holder identity must be."""
    options = JanitorOptions(
        retention_seconds=settings.retention_seconds,
        interval_seconds=settings.janitor_interval_seconds,
        deletes_per_second=settings.janitor_deletes_per_second,
        lease_name=settings.janitor_lease_name,
        lease_duration_seconds=settings.janitor_lease_duration_seconds,
        renew_deadline_seconds=settings.janitor_renew_deadline_seconds,
        retry_period_seconds=settings.janitor_retry_period_seconds,
    )
    identity = f"{settings.pod_name or socket.gethostname()}_{host_id}"
    return Janitor(api_client, namespace=namespace, label_key=CHANNEL_LABEL, channel=channel,
                   identity=identity, options=options)


__all__ = ["Janitor", "JanitorOptions", "JanitorPermissionError", "LeaseElector", "PassResult",
           "make_janitor", "microtime", "permission_message"]
