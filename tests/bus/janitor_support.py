"""Helpers for the retention janitor's tests: short Lease timings, the Lease as the API
server holds it, which pods lead, and bus / non-bus Events of a given age."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from emitter.codec import CHANNEL_LABEL
from pushsvc.testing.kubeapi import KubeAPI
from tests.bus.cluster import NAMESPACE, Cluster
from tests.support.probes import metric

LEASE = "pushsvc-janitor"
#: Short timings so a test crosses an election and a takeover in seconds (the defaults are
#: a 15 s Lease, renewed every 2 s with a 10 s deadline as client-go's, and a 5-minute
#: retention): a 2 s Lease (renewed every 0.27 s, 1.33 s deadline), a pass every 0.2 s.
JANITOR_ENV = {
    "PUSHSVC_JANITOR": "true",
    "PUSHSVC_RETENTION_SECONDS": "2",
    "PUSHSVC_JANITOR_LEASE_DURATION_SECONDS": "2",
}


def admin(api: KubeAPI, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request as the emulator's admin; (status, parsed body)."""
    req = urllib.request.Request(
        api.url + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {api.admin_token()}",
                 "Content-Type": "application/merge-patch+json" if method == "PATCH"
                 else "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def lease(api: KubeAPI) -> dict[str, Any] | None:
    status, body = admin(api, "GET",
                         f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{LEASE}")
    return body if status == 200 else None


def holder(api: KubeAPI) -> str:
    current = lease(api)
    return str(((current or {}).get("spec") or {}).get("holderIdentity") or "")


def leaders(c: Cluster) -> list[int]:
    """Pods whose leader gauge is 1."""
    return [i for i, pod in enumerate(c.pods) if pod.is_running()
            and metric(pod.url, "pushsvc_janitor_leader", lease=LEASE) == 1]


def event_body(name: str, *, channel: str | None) -> dict[str, Any]:
    labels = {CHANNEL_LABEL: channel} if channel is not None else {}
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
            "involvedObject": {"kind": "Pod", "name": "janitor-test", "namespace": NAMESPACE},
            "reason": "JanitorTest", "message": "janitor test", "type": "Normal"}


def create_event(api: KubeAPI, name: str, *, channel: str | None) -> dict[str, Any]:
    status, body = admin(api, "POST", f"/api/v1/namespaces/{NAMESPACE}/events",
                         event_body(name, channel=channel))
    assert status == 201, body
    return dict(body)


def event_exists(api: KubeAPI, name: str) -> bool:
    return admin(api, "GET", f"/api/v1/namespaces/{NAMESPACE}/events/{name}")[0] == 200
