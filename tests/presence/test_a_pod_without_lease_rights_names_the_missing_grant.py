"""A pod whose ServiceAccount has the bus's rights but none on Leases logs which verb on which
resource in which namespace is missing and which rbac/ file grants it, and answers presence
for its own clients only; everything else keeps working."""

from __future__ import annotations

import signal

import yaml

from tests.bus.cluster import NAMESPACE, RBAC_TEXT, Cluster
from tests.presence.conftest import Connect, wait_for_answer, wait_until

EVENTS_ONLY = [
    {"apiVersion": "v1", "kind": "ServiceAccount",
     "metadata": {"name": "pushsvc-noleases", "namespace": NAMESPACE}},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
     "metadata": {"name": "pushsvc-noleases", "namespace": NAMESPACE},
     "rules": [{"apiGroups": [""], "resources": ["events"],
                "verbs": ["list", "watch", "create"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
     "metadata": {"name": "pushsvc-noleases", "namespace": NAMESPACE},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                 "name": "pushsvc-noleases"},
     "subjects": [{"kind": "ServiceAccount", "name": "pushsvc-noleases",
                   "namespace": NAMESPACE}]},
]


def test_the_forbidden_lease_calls_are_named_and_presence_stays_local(
        presence_cluster: Cluster, presence_client: Connect) -> None:
    api = presence_cluster.api
    api.set_rbac(RBAC_TEXT + "\n---\n" + yaml.safe_dump_all(EVENTS_ONLY))
    pod = presence_cluster.add_pod({
        "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for(NAMESPACE, "pushsvc-noleases"))})
    index = len(presence_cluster.pods) - 1
    try:
        wait_until(lambda: presence_cluster.ready(index), timeout=60, what="the extra pod")
        presence_client(index, "rosa", rooms=("team-local",))
        asker = presence_client(index, "sam", presence=["team-*"])
        answer = wait_for_answer(asker, "team-local", lambda a: a["count"] == 1)
        assert list(answer["pods"]) == [f"pushsvc-{index}"]

        def logged() -> bool:
            text = pod.read_log()
            return all(line in text for line in (
                "presence forbidden: cannot update leases.coordination.k8s.io in namespace "
                "'pushsvc'; apply rbac/api.yaml",
                "presence forbidden: cannot list/watch leases.coordination.k8s.io in "
                "namespace 'pushsvc'; apply rbac/api.yaml"))

        wait_until(logged, timeout=30, what="both 403s logged")
        text = pod.read_log()
        assert text.count("presence forbidden: cannot update") == 1  # once, not each round
        assert 'cannot update resource "leases" in API group "coordination.k8s.io"' in text
        assert presence_cluster.metric(
            index, 'pushsvc_presence_lease_writes_total{outcome="forbidden"}') >= 1
    finally:
        pod.stop(sig=signal.SIGTERM, timeout=30)
        api.set_rbac(RBAC_TEXT)
