"""The emulator serves what presence needs from a real API server: Lease lists and watches by
label selector (ADDED, MODIFIED, DELETED), a watch resumed from a list's resourceVersion, and
RBAC on the watch verb; checked with the official ``kubernetes`` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from pushsvc.testing.kubeapi import start_kubeapi
from tests.bus.cluster import RBAC_TEXT

pytestmark = pytest.mark.server  # it starts its processes itself

NS = "pushsvc"


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with start_kubeapi(tmp_path_factory.mktemp("kubeapi-leases")) as api:
        api.set_rbac(RBAC_TEXT)
        yield api


def _leases(path: Any) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(config.new_client_from_config(config_file=str(path)))


def _lease(name: str, label: str) -> client.V1Lease:
    return client.V1Lease(metadata=client.V1ObjectMeta(name=name, labels={"kind": label}),
                          spec=client.V1LeaseSpec(holder_identity=name,
                                                  lease_duration_seconds=3))


def test_a_label_selected_watch_sees_adds_updates_and_deletes_of_matching_leases_only(
        kube: Any) -> None:
    api = _leases(kube.kubeconfig)
    api.create_namespaced_lease(NS, _lease("p-one", "presence"))
    api.create_namespaced_lease(NS, _lease("other", "janitor"))
    listed = api.list_namespaced_lease(NS, label_selector="kind=presence")
    assert [i.metadata.name for i in listed.items] == ["p-one"]

    api.create_namespaced_lease(NS, _lease("p-two", "presence"))
    two = api.read_namespaced_lease("p-two", NS)
    two.spec.holder_identity = "renewed"
    api.replace_namespaced_lease("p-two", NS, two)
    api.replace_namespaced_lease("other", NS, api.read_namespaced_lease("other", NS))
    api.delete_namespaced_lease("p-one", NS)
    seen = []
    for event in watch.Watch().stream(api.list_namespaced_lease, NS,
                                      label_selector="kind=presence", timeout_seconds=1,
                                      resource_version=listed.metadata.resource_version):
        seen.append((event["type"], event["object"].metadata.name))
    assert seen == [("ADDED", "p-two"), ("MODIFIED", "p-two"), ("DELETED", "p-one")]


def test_the_pods_may_watch_leases_and_the_notifier_may_not(kube: Any) -> None:
    pods = _leases(kube.kubeconfig_for(NS, "pushsvc-api"))
    assert list(watch.Watch().stream(pods.list_namespaced_lease, NS, timeout_seconds=0,
                                     label_selector="kind=none")) == []
    notifier = _leases(kube.kubeconfig_for(NS, "pushsvc-notifier"))
    with pytest.raises(ApiException) as info:
        list(watch.Watch().stream(notifier.list_namespaced_lease, NS, timeout_seconds=1))
    assert info.value.status == 403
    assert json.loads(info.value.body)["message"] == (
        'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:pushsvc:'
        'pushsvc-notifier" cannot watch resource "leases" in API group "coordination.k8s.io" '
        'in the namespace "pushsvc"')
