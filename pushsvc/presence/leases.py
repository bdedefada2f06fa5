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
  resourceVersion (server ``timeoutSeconds`` and a longer client read timeout): the loop of
  pushsvc/kube/watching.py, shared with the bus watcher. ``ERROR`` 410 relists at once;
  other errors back off 0.8 s doubling with jitter to 30 s; 429 waits out ``Retry-After``; a
  403 is logged with the verb, resource, namespace and the rbac/ file to apply.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from emitter.wire import (
    CONNECTION_ERRORS,
    Backoff,
    raw_request,
    retry_after_seconds,
    status_message,
)
from pushsvc.kube.watching import KubeTransport, ListWatch, Restart
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


class LeaseWatch(ListWatch[None]):
    """List+watch of the presence Leases, handing each summary to ``on_put`` / ``on_drop``.

    :param on_put: ``(lease name, summary, lease duration seconds)`` for each valid summary.
    :param on_drop: a Lease name that was deleted or no longer carries a valid summary.
    :param on_reset: before a (re)list's items: forget every Lease.
    """

    what = "presence"

    def __init__(self, api_client: ApiClient, *, namespace: str, channel: str,
                 on_put: Callable[[str, Summary, float], None],
                 on_drop: Callable[[str], None], on_reset: Callable[[], None],
                 timeout_seconds: int = 300, read_timeout_seconds: float = 330.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        transport = KubeTransport(
            api_client, path=f"{LEASE_API}/namespaces/{namespace}/leases",
            label_selector=f"{PRESENCE_LABEL}={channel}", timeout_seconds=timeout_seconds,
            read_timeout_seconds=read_timeout_seconds, connect_timeout_seconds=5.0)
        super().__init__(transport, timeout_seconds=timeout_seconds,
                         forbidden=self._forbidden_text,
                         backoff=Backoff(initial=0.8, maximum=30.0, jitter=0.2),
                         sleep=self._wait, clock=clock)
        self.namespace = namespace
        self.on_put, self.on_drop, self.on_reset = on_put, on_drop, on_reset
        self._tick = sleep
        self.up = False
        self._bad_logged: set[str] = set()

    def run(self) -> None:
        """Until :meth:`stop`: list, watch, relist on 410, back off on errors."""
        for _ in self.watch_forever():
            pass

    def _forbidden_text(self, exc: ApiException, verb: str) -> str:
        return forbidden_message(exc, verb="list/watch", namespace=self.namespace)

    def _wait(self, seconds: float) -> None:
        end = self._clock() + seconds
        while not self.stopped and self._clock() < end:
            self._tick(min(0.5, max(0.0, end - self._clock())))

    def _list(self, *, rewind: bool) -> Iterator[None]:
        first = True
        for page in self._pages():
            if first:
                self.on_reset()
                first = False
            for item in page.items:
                self._apply("ADDED", item)
            self.resource_version = page.resource_version
        self.up = True
        return
        yield  # a generator, as the loop wants

    def _on_event(self, kind: str, obj: dict[str, Any]) -> Iterator[None]:
        self._apply(kind, obj)
        return iter(())

    def _after_stream(self, restart: Restart, opened: float, previous: Restart | None) -> None:
        if self.stopped or self.routine(restart, self._clock() - opened, None):
            if restart.cause == "expired":  # a 410, in the stream or not: list again at once
                metrics.watch_restarts.labels(cause="expired").inc()
            return
        if restart.cause == "throttled":
            self._wait(restart.retry_after or 1.0)  # its Retry-After, nothing more
            return
        if restart.cause == "forbidden":
            logger.error("%s", restart.detail)
        else:
            logger.warning("presence: Lease watch interrupted (%s): %s", restart.cause,
                           restart.detail)
        self.up = False
        cause = "forbidden" if restart.cause == "forbidden" else "error"
        metrics.watch_restarts.labels(cause=cause).inc()
        self._wait(self._delay(restart, self._clock() - opened, previous))

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
