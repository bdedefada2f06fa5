"""`kubectl kustomize manifests/` renders with its RBAC, and every object passes strict validation.

kubernetes-validate checks against the bundled OpenAPI schemas of Kubernetes 1.33
without a cluster; --strict rejects unknown fields.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import REPO_ROOT, require_tool, run

K8S_VERSION = "1.33.0"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kubectl = require_tool("kubectl")
    done = run([kubectl, "kustomize", str(REPO_ROOT / "manifests")])
    assert done.returncode == 0, done.stderr
    out = tmp_path_factory.mktemp("kustomize") / "rendered.yaml"
    out.write_text(done.stdout)
    return out


def _objects(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _validate(*files: Path) -> None:
    tool = str(Path(sys.executable).parent / "kubernetes-validate")
    done = run([tool, "--strict", "-k", K8S_VERSION, *map(str, files)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rendered_object_passes_strict_validation(rendered: Path) -> None:
    _validate(rendered)


def test_rbac_files_pass_strict_validation() -> None:
    files = sorted((REPO_ROOT / "rbac").glob("*.yaml"))
    _validate(*(f for f in files if f.name != "kustomization.yaml"))


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (REPO_ROOT / "manifests" / "base" / "pdb.yaml").read_text()
    bad.write_text(text.replace("  maxUnavailable: 1", "  maxUnavailable: 1\n  maxUnavaliable: 1"))
    tool = str(Path(sys.executable).parent / "kubernetes-validate")
    done = run([tool, "--strict", "-k", K8S_VERSION, str(bad)])
    assert done.returncode != 0


def test_rendering_has_the_workload_the_design_names(rendered: Path) -> None:
    objs = {(o["kind"], o["metadata"]["name"]): o for o in _objects(rendered)}
    assert all(o["metadata"]["namespace"] == "pushsvc" for o in objs.values())
    deploy = objs[("Deployment", "pushsvc")]["spec"]
    pod = deploy["template"]["spec"]
    container = pod["containers"][0]
    assert deploy["replicas"] == 3
    assert pod["serviceAccountName"] == "pushsvc-api"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "preStop" in container["lifecycle"]
    env = {e["name"]: e for e in container["env"]}
    assert env["PUSHSVC_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["PUSHSVC_POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.namespace"
    )
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert "cpu" in container["resources"]["requests"]
    assert "memory" in container["resources"]["limits"]

    svc = objs[("Service", "pushsvc")]["spec"]
    assert svc["type"] == "NodePort"
    assert svc["sessionAffinity"] == "ClientIP"
    assert svc["externalTrafficPolicy"] == "Local"
    assert ("PodDisruptionBudget", "pushsvc") in objs

    # The RBAC comes with the workload (manifests/base lists rbac/).
    assert {("ServiceAccount", "pushsvc-api"), ("Role", "pushsvc-api"),
            ("RoleBinding", "pushsvc-api"), ("ServiceAccount", "pushsvc-notifier"),
            ("Role", "pushsvc-notifier"), ("RoleBinding", "pushsvc-notifier")} <= set(objs)

    settings = next(o for (kind, _), o in objs.items() if kind == "ConfigMap")
    assert container["envFrom"][0]["configMapRef"]["name"] == settings["metadata"]["name"]


def test_termination_grace_exceeds_prestop_plus_the_shutdown_grace(rendered: Path) -> None:
    objs = _objects(rendered)
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    settings = next(o for o in objs if o["kind"] == "ConfigMap")["data"]
    pod = deploy["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = float(settings["PUSHSVC_SHUTDOWN_GRACE_SECONDS"]) + float(pre_stop[1])
    assert pod["terminationGracePeriodSeconds"] > drain


def test_notifiers_run_pushsvc_notify_as_the_notifier_service_account(rendered: Path) -> None:
    objs = _objects(rendered)
    job = next(o for o in objs if o["kind"] == "Job")["spec"]["template"]["spec"]
    cron = next(o for o in objs if o["kind"] == "CronJob")
    cron_pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for pod in (job, cron_pod):
        assert pod["serviceAccountName"] == "pushsvc-notifier"
        assert pod["containers"][0]["command"] == ["pushsvc-notify"]


def test_service_accounts_do_not_automount_their_token() -> None:
    for name in ("api.yaml", "notifier.yaml"):
        objs = _objects(REPO_ROOT / "rbac" / name)
        sa = next(o for o in objs if o["kind"] == "ServiceAccount")
        assert sa["automountServiceAccountToken"] is False
        assert {o["kind"] for o in objs} == {"ServiceAccount", "Role", "RoleBinding"}
