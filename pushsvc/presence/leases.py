"""Presence on the Kubernetes API: one coordination.k8s.io/v1 Lease per pod, watched by all.

Why a Lease per pod rather than bus Events (docs/presence.md has the long form): a Lease is
updated in place, so etcd holds one small object per pod whatever the interval, where an
Event per summary would pile up until the janitor's retention; a Lease's
``leaseDurationSeconds`` is exactly the "a dead pod drops out after" bound; and the API server
keeps Leases in its watch cache, so the watch every pod holds is served from memory.

- **Writing**: one ``PUT`` per interval of the pod's own Lease, unconditional (the pod is its
  only writer, so no ``get`` and no resourceVersion are needed); a 404 creates it. On shutdown
  the Lease is rewritten empty with a 1 s duration, so the others drop the pod at once. With
  the pod's uid known (downward API), the Lease is owned by the Pod and Kubernetes' garbage
  collector deletes it with the Pod.
- **Reading**: list the Leases with the presence label selector, then watch from the list's
  resourceVersion (server ``timeoutSeconds`` and a longer client read timeout, as the bus
  watcher does); ``ERROR`` 410 relists; other errors back off 0.8 s doubling with jitter to
  30 s; 429 waits out ``Retry-After``; a 403 is logged once with the verb, resource,
  namespace and the rbac/ file to apply.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.wire import CONNECTION_ERRORS, raw_request, retry_after_seconds, status_message
from pushsvc.presence import metrics
from pushsvc.presence.summary import Summary, SummaryError, decode

logger = logging.getLogger(__name__)

LEASE_API = "/apis/coordination.k8s.io/v1"
#: Marks presence Leases (value: the bus channel); the watch selects on it.
PRESENCE_LABEL = "pushsvc.io/presence"
SUMMARY_ANNOTATION = "pushsvc.io/presence-summary"
RBAC_FILE = "rbac/api.yaml"
_REQUEST_TIMEOUT = (5.0, 10.0)


def lease_name(pod: str) -> str:
    """``pushsvc-presence-<pod>`` as a valid object name (lowercase DNS subdomain)."""
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", pod.lower()).strip("-.") or "pod"
    return ("pushsvc-presence-" + cleaned)[:253].rstrip("-.")


def forbidden_message(exc: ApiException, *, verb: str, namespace: str) -> str:
    return (f"presence forbidden: cannot {verb} leases.coordination.k8s.io in namespace "
            f"{namespace!r}; apply {RBAC_FILE} (grants list/watch/create/update on leases to "
            f"ServiceAccount pushsvc-api). The API server said: {status_message(exc)}")


class LeaseWriter:
    """Writes this pod's summary into its own Lease."""

    def __init__(self, api_client: ApiClient, *, namespace: str, name: str, identity: str,
                 channel: str, duration_seconds: int,
                 owner: dict[str, str] | None = None) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.channel = channel
        self.duration_seconds = duration_seconds
        self.owner = owner
        self.not_before = 0.0  # monotonic; after a 429, its Retry-After
        self._forbidden_logged = False

    def _body(self, data: bytes, duration: int) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace,
                                "labels": {PRESENCE_LABEL: self.channel},
                                "annotations": {SUMMARY_ANNOTATION: data.decode()}}
        if self.owner is not None:
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", **self.owner}]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                         "renewTime": now}}

    def write(self, data: bytes, *, duration: int | None = None) -> str:
        """One write; returns the outcome (also counted): ok, created, throttled, forbidden
        or error. Never raises for API or connection errors."""
        if time.monotonic() < self.not_before:
            return self._count("throttled")
        body = self._body(data, duration or self.duration_seconds)
        path = f"{LEASE_API}/namespaces/{self.namespace}/leases"
        verb = "update"
        try:
            try:
                raw_request(self.api_client, "PUT", f"{path}/{self.name}", body=body,
                            timeout=_REQUEST_TIMEOUT).release_conn()
                return self._count("ok")
            except ApiException as exc:
                if exc.status != 404:
                    raise
            verb = "create"
            raw_request(self.api_client, "POST", path, body=body,
                        timeout=_REQUEST_TIMEOUT).release_conn()
            return self._count("created")
        except ApiException as exc:
            if exc.status == 403:
                if not self._forbidden_logged:
                    self._forbidden_logged = True
                    logger.error("%s", forbidden_message(exc, verb=verb,
                                                         namespace=self.namespace))
                return self._count("forbidden")
            if exc.status == 429:
                self.not_before = time.monotonic() + (retry_after_seconds(exc) or 1.0)
                return self._count("throttled")
            logger.warning("presence: cannot %s Lease %s/%s: HTTP %s %s", verb,
                           self.namespace, self.name, exc.status, status_message(exc))
            return self._count("error")
        except CONNECTION_ERRORS as exc:
            logger.warning("presence: cannot reach the API server for Lease %s/%s: %s",
                           self.namespace, self.name, exc)
            return self._count("error")

    def release(self, empty: bytes) -> str:
        """Rewrite the Lease empty with a 1 s duration: the other pods drop this one now."""
        self.not_before = 0.0
        return self.write(empty, duration=1)

    @staticmethod
    def _count(outcome: str) -> str:
        metrics.writes.labels(outcome=outcome).inc()
        return outcome


class LeaseWatch:
    """List+watch of the presence Leases, handing each summary to ``on_put`` / ``on_drop``.

    :param on_put: ``(lease name, summary, lease duration seconds)`` for each valid summary.
    :param on_drop: a Lease name that was deleted or no longer carries a valid summary.
    :param on_reset: before a (re)list's items: forget every Lease.
    """

    def __init__(self, api_client: ApiClient, *, namespace: str, channel: str,
                 on_put: Callable[[str, Summary, float], None],
                 on_drop: Callable[[str], None], on_reset: Callable[[], None],
                 timeout_seconds: int = 300, read_timeout_seconds: float = 330.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.selector = f"{PRESENCE_LABEL}={channel}"
        self.on_put, self.on_drop, self.on_reset = on_put, on_drop, on_reset
        self.timeout_seconds = timeout_seconds
        self.timeout = (5.0, read_timeout_seconds)
        self._sleep = sleep
        self._clock = clock
        self.stopped = False
        self.up = False
        self._bad_logged: set[str] = set()

    @property
    def _path(self) -> str:
        return f"{LEASE_API}/namespaces/{self.namespace}/leases"

    def run(self) -> None:
        """Until :meth:`stop`: list, watch, relist on 410, back off on errors."""
        delay, healthy_since = 0.8, 0.0
        while not self.stopped:
            cause = "error"
            try:
                version: str | None = self._list()
                self.up, healthy_since = True, time.monotonic()
                while not self.stopped and version is not None:
                    version = self._watch(version)
                if version is None and not self.stopped:
                    metrics.watch_restarts.labels(cause="expired").inc()
                    continue  # 410: list again at once
            except ApiException as exc:
                if exc.status == 410:  # a watch refused as too old: list again at once
                    metrics.watch_restarts.labels(cause="expired").inc()
                    continue
                cause = {403: "forbidden", 429: "throttled"}.get(exc.status or 0, "error")
                if exc.status == 403:
                    logger.error("%s", forbidden_message(exc, verb="list/watch",
                                                         namespace=self.namespace))
                else:
                    logger.warning("presence: Lease watch failed: HTTP %s %s", exc.status,
                                   status_message(exc))
                if exc.status == 429:
                    self._wait(retry_after_seconds(exc) or 1.0)
                    continue
            except (*CONNECTION_ERRORS, ValueError) as exc:  # type: ignore[misc]
                logger.warning("presence: Lease watch interrupted: %s", exc)
            if self.stopped:
                return
            self.up = False
            metrics.watch_restarts.labels(cause=cause).inc()
            if healthy_since and time.monotonic() - healthy_since > 60:
                delay = 0.8
            self._wait(delay * random.uniform(0.8, 1.2))
            delay = min(30.0, delay * 2)

    def stop(self) -> None:
        self.stopped = True

    def _wait(self, seconds: float) -> None:
        end = self._clock() + seconds
        while not self.stopped and self._clock() < end:
            self._sleep(min(0.5, max(0.0, end - self._clock())))

    def _list(self) -> str:
        resp = raw_request(self.api_client, "GET", self._path,
                           query=[("labelSelector", self.selector)], timeout=self.timeout)
        body = orjson.loads(resp.data)
        self.on_reset()
        for item in body.get("items") or []:
            self._apply("ADDED", item)
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _watch(self, version: str) -> str | None:
        """One watch from ``version``; returns the version to resume from, None on 410."""
        query = [("labelSelector", self.selector), ("watch", "true"),
                 ("resourceVersion", version), ("timeoutSeconds", str(self.timeout_seconds)),
                 ("allowWatchBookmarks", "true")]
        resp = raw_request(self.api_client, "GET", self._path, query=query,
                           timeout=self.timeout)
        try:
            buffer = b""
            for chunk in resp.stream(None, decode_content=False):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            return None
                        raise ValueError(f"watch ERROR {obj.get('code')}: {obj.get('message')}")
                    version = str((obj.get("metadata") or {}).get("resourceVersion")
                                  or version or "")
                    if kind != "BOOKMARK":
                        self._apply(str(kind), obj)
                if self.stopped:
                    break
        finally:
            resp.close()
        return version

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if kind == "DELETED":
            self.on_drop(name)
            return
        text = (meta.get("annotations") or {}).get(SUMMARY_ANNOTATION)
        duration = (obj.get("spec") or {}).get("leaseDurationSeconds")
        try:
            if not isinstance(text, str) or not isinstance(duration, int) or duration <= 0:
                raise SummaryError("no summary annotation or lease duration")
            summary = decode(text)
        except SummaryError as err:
            metrics.bad_summaries.inc()
            if name not in self._bad_logged and len(self._bad_logged) < 1000:
                self._bad_logged.add(name)
                logger.warning("presence: skipped Lease %s/%s: %s (logged once per Lease)",
                               self.namespace, name, err)
            self.on_drop(name)
            return
        self.on_put(name, summary, float(duration))
