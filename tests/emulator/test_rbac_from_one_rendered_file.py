"""``--rbac-dir`` also takes one multi-document file, such as ``kubectl kustomize`` output.

An admin applies what an overlay renders, not the folder: the emulator loads that very file,
skips the kinds it does not enforce (Deployments, ConfigMaps, ServiceAccounts, ...), and
enforces its Roles and RoleBindings. A path that does not exist stops the emulator with a
clear error instead of starting it with no grants at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event

RENDERED = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: notifier, namespace: team-a}
---
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
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team-a}
spec: {}
"""


def _as(api: KubeAPI, namespace: str, sa: str) -> Http:
    kubeconfig = api.kubeconfig_for(namespace, sa)
    return Http(api, str(yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]))


def test_roles_from_one_rendered_file_are_enforced(
        tmp_path: Path, kubeapi_factory: Callable[..., KubeAPI]) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(RENDERED)
    api = kubeapi_factory(rbac_dir=rendered)
    notifier = _as(api, "team-a", "notifier")
    assert notifier.post("/api/v1/namespaces/team-a/events", event("team-a")).status_code == 201
    assert notifier.get("/api/v1/namespaces/team-a/events").status_code == 403
    assert notifier.post("/api/v1/namespaces/team-b/events", event("team-b")).status_code == 403
    notifier.close()
    log = api.log_path.read_text()
    assert "ignoring Deployment web" in log
    assert "1 roles, 0 cluster roles, 1 bindings" in log


def test_an_rbac_path_that_does_not_exist_stops_the_emulator(
        tmp_path: Path, kubeapi_factory: Callable[..., KubeAPI]) -> None:
    missing = tmp_path / "no-such-rendered.yaml"
    with pytest.raises(RuntimeError, match="did not start"):
        kubeapi_factory(rbac_dir=missing)
    log = (tmp_path / "kubeapi-0" / "kubeapi.log").read_text()
    assert f"RBAC path {missing} does not exist" in log
