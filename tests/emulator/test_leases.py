"""coordination.k8s.io/v1 Leases: CRUD with the official client and kubectl, optimistic
concurrency (a stale update is 409 Conflict), the real Status bodies, and resourceNames RBAC."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import KUBECTL, Http, kubectl

NS = "team-a"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"


@pytest.fixture
def coordination(kubeapi: KubeAPI) -> Iterator[client.CoordinationV1Api]:
    api_client = config.new_client_from_config(config_file=str(kubeapi.kubeconfig))
    yield client.CoordinationV1Api(api_client)
    api_client.close()


def _lease(name: str, holder: str = "pod-a") -> client.V1Lease:
    now = datetime.datetime.now(datetime.UTC)
    return client.V1Lease(metadata=client.V1ObjectMeta(name=name), spec=client.V1LeaseSpec(
        holder_identity=holder, lease_duration_seconds=15, acquire_time=now, renew_time=now,
        lease_transitions=0))


def test_a_lease_is_created_read_updated_listed_and_deleted(
        coordination: client.CoordinationV1Api) -> None:
    created = coordination.create_namespaced_lease(NS, _lease("janitor"))
    assert created.spec.holder_identity == "pod-a"
    assert created.metadata.uid and created.metadata.resource_version
    read = coordination.read_namespaced_lease("janitor", NS)
    assert read.spec.renew_time == created.spec.renew_time
    read.spec.holder_identity = "pod-b"
    read.spec.lease_transitions = 1
    updated = coordination.replace_namespaced_lease("janitor", NS, read)
    assert updated.spec.holder_identity == "pod-b"
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    assert [item.metadata.name for item in coordination.list_namespaced_lease(NS).items] == [
        "janitor"]
    coordination.delete_namespaced_lease("janitor", NS)
    with pytest.raises(ApiException) as info:
        coordination.read_namespaced_lease("janitor", NS)
    assert info.value.status == 404


def test_an_update_with_a_stale_resource_version_is_409_conflict(http: Http) -> None:
    first = http.post(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                               "metadata": {"name": "l1"}, "spec": {"holderIdentity": "a"}})
    assert first.status_code == 201, first.text
    lease = first.json()
    winner = {**lease, "spec": {"holderIdentity": "b"}}
    assert http.session.put(http.url(f"{LEASES}/l1"), json=winner, timeout=30).status_code == 200
    loser = {**lease, "spec": {"holderIdentity": "c"}}  # still carries the first version
    resp = http.session.put(http.url(f"{LEASES}/l1"), json=loser, timeout=30)
    assert resp.status_code == 409
    assert resp.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Operation cannot be fulfilled on leases.coordination.k8s.io "l1": the '
                   "object has been modified; please apply your changes to the latest version "
                   "and try again",
        "reason": "Conflict",
        "details": {"name": "l1", "group": "coordination.k8s.io", "kind": "leases"},
        "code": 409}
    again = http.post(LEASES, {"metadata": {"name": "l1"}, "spec": {}})
    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyExists"
    assert again.json()["message"] == 'leases.coordination.k8s.io "l1" already exists'
    missing = http.get(f"{LEASES}/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'leases.coordination.k8s.io "nope" not found'


def test_a_lease_with_a_non_positive_duration_is_422_invalid(http: Http) -> None:
    resp = http.post(LEASES, {"metadata": {"name": "bad"},
                              "spec": {"leaseDurationSeconds": 0}})
    assert resp.status_code == 422
    assert resp.json()["message"] == (
        'Lease.coordination.k8s.io "bad" is invalid: spec.leaseDurationSeconds: Invalid '
        "value: 0: must be greater than 0")


def test_leases_share_the_one_resource_version_counter_with_events(http: Http) -> None:
    lease = http.post(LEASES, {"metadata": {"name": "rv"}, "spec": {}}).json()
    events = http.get(f"/api/v1/namespaces/{NS}/events").json()
    assert int(events["metadata"]["resourceVersion"]) == int(
        lease["metadata"]["resourceVersion"])


@pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl not installed")
def test_kubectl_finds_leases_through_discovery_and_prints_holder_columns(
        kubeapi: KubeAPI, coordination: client.CoordinationV1Api) -> None:
    coordination.create_namespaced_lease(NS, _lease("pushsvc-janitor", holder="pod-0_ab12"))
    out = kubectl(kubeapi.kubeconfig, "get", "leases", "-n", NS)
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()
    assert header.split() == ["NAME", "HOLDER", "AGE"]
    assert row.split()[:2] == ["pushsvc-janitor", "pod-0_ab12"]
    shown = kubectl(kubeapi.kubeconfig, "get", "lease", "pushsvc-janitor", "-n", NS, "-o",
                    "yaml")
    assert shown.returncode == 0, shown.stderr
    assert yaml.safe_load(shown.stdout)["spec"]["holderIdentity"] == "pod-0_ab12"


ONE_LEASE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: elect, namespace: team-a}
rules:
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: ["mine"]
  verbs: ["get", "update", "create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: elect, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: elect}
subjects:
- {kind: ServiceAccount, name: pod, namespace: team-a}
"""


def test_resource_names_narrow_get_and_update_but_cannot_grant_create(
        kubeapi_factory: Callable[..., KubeAPI], tmp_path: Path) -> None:
    rbac = tmp_path / "rbac"
    rbac.mkdir()
    (rbac / "elect.yaml").write_text(ONE_LEASE)
    api = kubeapi_factory(rbac_dir=rbac)
    admin = Http(api, api.admin_token())
    assert admin.post(LEASES, {"metadata": {"name": "mine"}, "spec": {}}).status_code == 201
    assert admin.post(LEASES, {"metadata": {"name": "theirs"}, "spec": {}}).status_code == 201
    token = yaml.safe_load(api.kubeconfig_for(NS, "pod").read_text())["users"][0]["user"]["token"]
    pod = Http(api, token)
    mine = pod.get(f"{LEASES}/mine")
    assert mine.status_code == 200
    assert pod.session.put(pod.url(f"{LEASES}/mine"), json=mine.json(),
                           timeout=30).status_code == 200
    theirs = pod.get(f"{LEASES}/theirs")
    assert theirs.status_code == 403
    assert theirs.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'leases.coordination.k8s.io "theirs" is forbidden: User '
                   '"system:serviceaccount:team-a:pod" cannot get resource "leases" in API '
                   'group "coordination.k8s.io" in the namespace "team-a"',
        "reason": "Forbidden",
        "details": {"name": "theirs", "group": "coordination.k8s.io", "kind": "leases"},
        "code": 403}
    # A create carries no name in its URL: a rule with resourceNames never matches it.
    create = pod.post(LEASES, {"metadata": {"name": "mine2"}, "spec": {}})
    assert create.status_code == 403
    assert create.json()["message"] == (
        'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:team-a:pod" '
        'cannot create resource "leases" in API group "coordination.k8s.io" in the namespace '
        '"team-a"')
    for h in (admin, pod):
        h.close()


def test_leases_survive_an_emulator_restart(kubeapi: KubeAPI, http: Http) -> None:
    assert http.post(LEASES, {"metadata": {"name": "kept"},
                              "spec": {"holderIdentity": "a"}}).status_code == 201
    kubeapi.restart()
    after = Http(kubeapi, kubeapi.admin_token())
    assert after.get(f"{LEASES}/kept").json()["spec"]["holderIdentity"] == "a"
    after.close()
