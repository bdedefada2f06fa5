"""Pods whose own ServiceAccount is throttled by API Priority and Fairness lose nothing and
never retry before Retry-After.

Two real pods, each as its own ServiceAccount (the emulator judges "the same request again"
per user, and two pods of one ServiceAccount ask for the same Lease), each limited by the
emulator to 1.5 requests/s (burst 2): their watchers (a new watch every 4 s), janitors (Lease
rounds every 0.3 s, a sweep every 0.5 s) and publishers together ask for more, so every kind
of request meets APF's 429. Clients on both pods broadcast numbered messages (each pod's
publisher creates Events for the other pod) while an unthrottled notifier streams numbered
notifications: every client gets every message exactly once, in order per sender, and the
emulator saw no request repeated before its 429's Retry-After ran out (the janitor used to
retry every retry period).
"""

from __future__ import annotations

import yaml

from pushsvc.testing.kubeapi import serviceaccount_user
from pushsvc.testing.procs import LIFTED_CLIENT_LIMITS
from tests.bus.cluster import NAMESPACE, RBAC_TEXT, finish, numbered, wait_stream_delivered
from tests.bus.janitor_support import JANITOR_ENV
from tests.support.sio_client import RecordingClient, wait_until

ACCOUNTS = ["pushsvc-api-0", "pushsvc-api-1"]
USERS = [serviceaccount_user(NAMESPACE, name) for name in ACCOUNTS]
ENV = {
    **LIFTED_CLIENT_LIMITS,
    **JANITOR_ENV,
    "PUSHSVC_RETENTION_SECONDS": "30",
    # Throttled watches and creates wait whole seconds: not long enough to call the bus down.
    "PUSHSVC_WATCH_DOWN_GRACE_SECONDS": "60",
    "PUSHSVC_BUS_PUBLISH_DEADLINE_SECONDS": "60",
}
BROADCASTS = 20
STREAM = 60


def _rbac_for_both_accounts() -> str:
    docs = [d for d in yaml.safe_load_all(RBAC_TEXT) if d]
    for doc in docs:
        if doc["kind"] == "RoleBinding" and doc["metadata"]["name"].startswith("pushsvc-api"):
            doc["subjects"] = [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}
                               for name in ACCOUNTS]
    return yaml.safe_dump_all(docs)


def _broadcasts(client: RecordingClient, prefix: str) -> list[str]:
    return [d for d in client.replies() if isinstance(d, str) and d.startswith(prefix)]


def test_throttled_pods_deliver_every_message_once_and_never_retry_before_retry_after(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=0, env=ENV)
    api.set_rbac(_rbac_for_both_accounts())
    for name in ACCOUNTS:
        cluster.add_pod({"PUSHSVC_KUBECONFIG": str(api.kubeconfig_for(NAMESPACE, name))})
    cluster.wait_all_watching()
    clients = [cluster.connect(k) for k in (0, 1)]
    for user in USERS:
        api.rate_limit(user, 1.5, burst=2)
    wait_until(lambda: all(api.apf_stats()[u]["throttled"] >= 3 for u in USERS), timeout=30,
               what="both pods' own requests to be throttled")

    proc = cluster.start_stream(count=STREAM, tag="apf")
    for n in range(BROADCASTS):
        for k, client in enumerate(clients):
            client.emit("my_broadcast_event", {"data": f"pod{k} #{n}"})
    finish(proc)
    wait_stream_delivered(clients, "apf", STREAM)
    for k in (0, 1):
        expected = [f"pod{k} #{n}" for n in range(BROADCASTS)]
        wait_until(lambda k=k, expected=expected: all(
            len(_broadcasts(c, f"pod{k} #")) >= len(expected) for c in clients), timeout=90,
            what=f"pod {k}'s broadcasts at every client")
    for client in clients:
        assert sorted(numbered(client, "apf")) == list(range(STREAM))  # two sender threads
        for k in (0, 1):
            assert _broadcasts(client, f"pod{k} #") == [f"pod{k} #{n}"
                                                        for n in range(BROADCASTS)]

    for user in USERS:
        stats = api.apf_stats()[user]
        assert stats["throttled"] > 0
        assert stats["early_retries"] == 0
    retried = sum(cluster.metric(k, "pushsvc_bus_api_retries_total") for k in (0, 1))
    assert retried > 0
    assert sum(cluster.metric(k, 'pushsvc_bus_outbox_dropped_total') for k in (0, 1)) == 0
    assert sum(cluster.metric(k, 'pushsvc_bus_publish_failures_total') for k in (0, 1)) == 0
