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
  1 s duration) so another pod takes over at once. The election is election.py; the deleters
  delete_pool.py.
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
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.wire import (
    CHANNEL_LABEL,
    CONNECTION_ERRORS,
    events_path,
    raw_request,
    status_message,
)
from pushsvc.bus import metrics
from pushsvc.bus.delete_pool import DeletePool
from pushsvc.bus.election import (
    RBAC_JANITOR,
    REQUEST_TIMEOUT,
    JanitorPermissionError,
    LeaseElector,
    microtime,
    permission_message,
    throttled_for,
)

if TYPE_CHECKING:
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

#: client-go's wait.JitterUntil factor for the acquire loop.
_JITTER = 1.2


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


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
        pool = DeletePool(self.delete, result.outcomes, size=self.options.deletes_in_flight)
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
                                       query=page_query, timeout=REQUEST_TIMEOUT)
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
                                   timeout=REQUEST_TIMEOUT)
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


__all__ = ["RBAC_JANITOR", "Janitor", "JanitorOptions", "JanitorPermissionError", "LeaseElector",
           "PassResult", "make_janitor", "microtime", "permission_message"]
