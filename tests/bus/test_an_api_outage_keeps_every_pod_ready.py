"""An API-server outage degrades cross-pod delivery but takes no pod out of the load balancer:
/readyz stays 200 on every pod, each pod keeps serving its own clients, and the bus's state
goes to /metrics and to /internal/health — which is not public (loopback without proxy
headers, or a bearer token) and is the only body naming the namespace or the API's errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.bus.cluster import http_get, numbered, wait_stream_delivered
from tests.support.sio_client import wait_until


def get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_every_pod_stays_ready_and_serves_its_own_clients_while_the_api_server_is_down(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=2)
    cluster.wait_all_watching()
    sender, local = cluster.connect(0), cluster.connect(0)
    api.stop()
    wait_until(lambda: all(cluster.health(k)["bus"]["degraded"] for k in range(2)),
               timeout=30, what="every pod's bus degraded")
    for k in range(2):
        assert http_get(f"{cluster.pods[k].url}/readyz") == (200, '{"ready":true,"reason":"ok"}\n')
        assert cluster.metric(k, "pushsvc_bus_watch_up") == 0
        assert cluster.metric(k, "pushsvc_bus_watch_down_seconds") > 2  # the grace period
        health = cluster.health(k)
        assert health["ready"] is True and health["bus"]["namespace"] == cluster.namespace
        assert health["bus"]["cause"]
    sender.emit("my_broadcast_event", {"data": "served while the API is down"})
    local.wait_for_reply("served while the API is down")
    # The outage ends: cross-pod delivery is back without anything restarted.
    api.start()
    cluster.wait_all_watching()
    clients = [local, cluster.connect(1)]
    proc = cluster.start_stream(count=5, tag="after-outage", every=1)
    proc.communicate(timeout=60)
    wait_stream_delivered(clients, "after-outage", 5)
    assert all(sorted(numbered(c, "after-outage")) == list(range(5)) for c in clients)
    assert not any(cluster.health(k)["bus"]["degraded"] for k in range(2))


def test_public_health_bodies_name_no_address_account_or_namespace(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=1)
    cluster.wait_all_watching()
    api.set_rbac("")  # the watch is now forbidden: its error names the ServiceAccount
    wait_until(lambda: "pushsvc-api" in cluster.health(0)["bus"]["cause"], timeout=30,
               what="the forbidden cause in the internal health")
    url = cluster.pods[0].url
    for path in ("/healthz", "/readyz"):
        status, body = http_get(url + path)
        assert status == 200
        for secret in ("127.0.0.1", str(api.port), "serviceaccount", "pushsvc-api",
                       f'"{cluster.namespace}"', "rbac"):
            assert secret not in body.lower(), (path, secret)


def test_internal_health_is_refused_through_a_proxy_and_open_to_its_bearer_token(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=1,
                              env={"PUSHSVC_INTERNAL_HEALTH_TOKEN": "t0ken-xyz-0123456789"})
    cluster.wait_all_watching()
    url = f"{cluster.pods[0].url}/internal/health"
    assert get(url, {})[0] == 200  # loopback, straight
    for proxied in ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"},
                    {"X-Forwarded-For": "127.0.0.1"}):
        status, body = get(url, proxied)
        assert status == 403 and cluster.namespace not in body
        assert get(url, {**proxied, "Authorization": "Bearer wrong"})[0] == 403
        status, body = get(url, {**proxied, "Authorization": "Bearer t0ken-xyz-0123456789"})
        assert status == 200 and json.loads(body)["bus"]["backend"] == "kubernetes"
    assert "t0ken-xyz-0123456789" not in cluster.pods[0].read_log()
