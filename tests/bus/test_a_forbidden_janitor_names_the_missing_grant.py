"""Without the Lease grants, or without delete on events, the janitor says what is missing:
the verb, the resource, the namespace and the rbac/ file that grants it; the pod keeps
serving and counts the refused delete."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pushsvc.testing.kubeapi import KubeAPI
from tests.bus.cluster import RBAC_TEXT
from tests.bus.janitor_support import JANITOR_ENV, create_event, event_exists
from tests.support.probes import metric
from tests.support.sio_client import wait_until

pytestmark = pytest.mark.server  # one pod: cluster_factory(..., pods=1)


def _rbac(*, leases: bool, delete: bool) -> str:
    docs = [d for d in yaml.safe_load_all(RBAC_TEXT) if d]
    for doc in docs:
        if doc["kind"] == "Role" and doc["metadata"]["name"] == "pushsvc-api":
            rules = []
            for rule in doc["rules"]:
                if rule["resources"] == ["leases"] and not leases:
                    continue
                if rule["resources"] == ["events"] and not delete:
                    rule = {**rule, "verbs": [v for v in rule["verbs"] if v != "delete"]}
                rules.append(rule)
            doc["rules"] = rules
    return yaml.safe_dump_all(docs)


def test_missing_lease_and_delete_grants_are_named(kubeapi: KubeAPI,
                                                   cluster_factory: Any) -> None:
    c = cluster_factory(kubeapi, pods=1, env=JANITOR_ENV)
    kubeapi.set_rbac(_rbac(leases=False, delete=True))
    pod = c.pods[0]
    wait_until(lambda: "retention janitor forbidden: cannot get leases.coordination.k8s.io "
                       "'pushsvc-janitor' in namespace 'pushsvc'; apply rbac/api.yaml"
                       in pod.read_log(), timeout=30, what="the Lease 403 named")

    kubeapi.set_rbac(_rbac(leases=True, delete=False))
    create_event(kubeapi, "janitor-forbidden", channel="pushsvc")
    wait_until(lambda: metric(pod.url, "pushsvc_janitor_deletions_total",
                              outcome="forbidden") >= 1, timeout=30, what="a refused delete")
    assert ("retention janitor forbidden: cannot delete events in namespace 'pushsvc'; apply "
            "rbac/api.yaml (grants delete on events, get/update on the janitor Lease and "
            "create on leases to ServiceAccount pushsvc-api)") in pod.read_log()
    assert ('cannot delete resource "events" in API group "" in the namespace "pushsvc"'
            in pod.read_log())
    assert event_exists(kubeapi, "janitor-forbidden")
    assert c.ready(0)
