"""Bearer tokens map to ServiceAccounts; Role/RoleBinding YAML is enforced with the real 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event

NOTIFIER_AND_API = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: notifier, namespace: team-a}
rules:
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: notifier, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: notifier}
subjects:
- {kind: ServiceAccount, name: notifier, namespace: team-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: api, namespace: team-a}
rules:
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list", "watch", "create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: api, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: api}
subjects:
- {kind: ServiceAccount, name: api}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: team-a}
"""


def _token(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"])


def _as(api: KubeAPI, namespace: str, sa: str) -> Http:
    return Http(api, _token(api.kubeconfig_for(namespace, sa)))


def test_roles_from_the_rbac_dir_are_enforced_with_the_real_403(
        tmp_path: Path, kubeapi_factory: Callable[..., KubeAPI]) -> None:
    rbac = tmp_path / "rbac"
    rbac.mkdir()
    (rbac / "roles.yaml").write_text(NOTIFIER_AND_API)
    api = kubeapi_factory(rbac_dir=rbac)
    notifier = _as(api, "team-a", "notifier")
    assert notifier.post("/api/v1/namespaces/team-a/events", event("team-a")).status_code == 201
    resp = notifier.get("/api/v1/namespaces/team-a/events", params={"watch": "1"})
    assert resp.status_code == 403
    assert resp.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'events is forbidden: User "system:serviceaccount:team-a:notifier" cannot '
                   'watch resource "events" in API group "" in the namespace "team-a"',
        "reason": "Forbidden", "details": {"kind": "events"}, "code": 403}
    pod = _as(api, "team-a", "api")
    assert pod.get("/api/v1/namespaces/team-a/events").status_code == 200
    w = pod.watch("/api/v1/namespaces/team-a/events", timeoutSeconds=1)
    assert w.rest() == [] or True
    other_ns = pod.get("/api/v1/namespaces/team-b/events")
    assert other_ns.status_code == 403
    assert other_ns.json()["message"].endswith('cannot list resource "events" in API group "" '
                                               'in the namespace "team-b"')
    assert pod.delete("/api/v1/namespaces/team-a/events/x").status_code == 403
    for h in (notifier, pod):
        h.close()


def test_a_service_account_without_bindings_is_forbidden(kubeapi: KubeAPI) -> None:
    h = _as(kubeapi, "ns", "nobody")
    resp = h.post("/api/v1/namespaces/ns/events", event("ns"))
    assert resp.status_code == 403
    assert resp.json()["message"] == (
        'events is forbidden: User "system:serviceaccount:ns:nobody" cannot create resource '
        '"events" in API group "" in the namespace "ns"')
    h.close()


def test_set_rbac_replaces_every_loaded_role(kubeapi: KubeAPI) -> None:
    h = _as(kubeapi, "team-a", "api")
    assert h.get("/api/v1/namespaces/team-a/events").status_code == 403
    kubeapi.set_rbac(NOTIFIER_AND_API)
    assert h.get("/api/v1/namespaces/team-a/events").status_code == 200
    kubeapi.set_rbac("")
    assert h.get("/api/v1/namespaces/team-a/events").status_code == 403
    h.close()


def test_cluster_roles_bound_by_group_are_honoured(kubeapi: KubeAPI) -> None:
    kubeapi.set_rbac("""\
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: event-reader}
rules: [{apiGroups: [""], resources: ["events"], verbs: ["get", "list"]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: all-sas, namespace: ns}
roleRef: {kind: ClusterRole, name: event-reader, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: Group, name: "system:serviceaccounts:ns"}]
""")
    h = _as(kubeapi, "ns", "anyone")
    assert h.get("/api/v1/namespaces/ns/events").status_code == 200
    assert h.get("/api/v1/namespaces/other/events").status_code == 403
    h.close()


def test_anonymous_requests_are_401_unless_started_with_anonymous(
        kubeapi: KubeAPI, kubeapi_factory: Callable[..., KubeAPI]) -> None:
    assert Http(kubeapi, None).get("/api/v1/namespaces/ns/events").status_code == 401
    api = kubeapi_factory(anonymous=True)
    anon = Http(api, None)
    resp = anon.get("/api/v1/namespaces/ns/events")
    assert resp.status_code == 403
    assert 'User "system:anonymous" cannot list' in resp.json()["message"]
    api.set_rbac("""\
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: read}
rules: [{apiGroups: [""], resources: ["events"], verbs: ["list"]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: anon-read}
roleRef: {kind: ClusterRole, name: read, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: User, name: "system:anonymous"}]
""")
    assert anon.get("/api/v1/namespaces/ns/events").status_code == 200
    anon.close()


def test_rbac_set_through_the_handle_survives_a_restart(kubeapi: KubeAPI) -> None:
    kubeapi.set_rbac(NOTIFIER_AND_API)
    kubeapi.restart()
    h = _as(kubeapi, "team-a", "api")
    assert h.get("/api/v1/namespaces/team-a/events").status_code == 200
    h.close()
