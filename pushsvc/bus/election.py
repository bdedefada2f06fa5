"""Leader election over one coordination.k8s.io/v1 Lease, as client-go's ``LeaseLock`` does it.

``try_acquire_or_renew``: get the Lease; create it if missing (409: another candidate won);
otherwise take it only when its holder is empty or has not renewed for
``leaseDurationSeconds`` *as observed on this pod's clock* (no clock comparison across pods),
writing it back with the resourceVersion read (409 Conflict: someone wrote in between).
``release``: empty holder, 1 s duration, so another candidate takes over at once. The janitor
(janitor.py) and the Job notifier run only while their pod holds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.wire import CONNECTION_ERRORS, raw_request, retry_after_seconds, status_message
from pushsvc.bus import metrics

logger = logging.getLogger(__name__)

#: Which file grants the janitor's verbs, named in every 403 message.
RBAC_JANITOR = ("rbac/api.yaml", "pushsvc-api")
LEASE_API = "/apis/coordination.k8s.io/v1"
REQUEST_TIMEOUT = (5.0, 10.0)


class JanitorPermissionError(Exception):
    """A 403: the message names the verb, resource, namespace and the rbac/ file to apply."""


def microtime(ts: float | None = None) -> str:
    """metav1.MicroTime as the API server writes it: RFC 3339 with microseconds, UTC."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def throttled_for(exc: ApiException) -> float:
    """How long to send nothing after this 429: its Retry-After (1 s without one); counted."""
    metrics.api_retries.labels(component="janitor", cause="throttled").inc()
    return retry_after_seconds(exc) or 1.0


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
                                   timeout=REQUEST_TIMEOUT)
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
