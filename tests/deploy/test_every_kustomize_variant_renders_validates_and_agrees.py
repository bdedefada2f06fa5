"""Every way to install pushsvc renders, passes strict validation, and its parts agree.

The variants: ``manifests/`` (the default install), ``manifests/base``, each overlay in
``manifests/overlays/``, the base with each component alone, and the remote notifier's own
side (``manifests/remote-notifier/batch``). For each, ``kubectl kustomize`` renders it and
``kubernetes-validate --strict`` checks every object (prometheus-operator's CRDs aside, which
tests/monitoring checks), then the references a typo would break silently: selectors match the
pods' labels, the PDB and the Services select the API pods, the ServiceMonitor the metrics
Service, every ServiceAccount a pod runs as exists in that variant, every RoleBinding points at
a Role and at ServiceAccounts that exist, the NetworkPolicies select pods and ports that exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import REPO_ROOT, kustomize, overlay_of, strict_validation

MANIFESTS = REPO_ROOT / "manifests"
COMPONENTS = ["monitoring", "api-priority", "remote-notifier", "network-policy", "job-notify"]
REMOTE_SIDE = MANIFESTS / "remote-notifier" / "batch"
VARIANTS = ["manifests", "base", "overlays/other-namespace", "overlays/full",
            *(f"base+{c}" for c in COMPONENTS), "remote-notifier/batch"]
Obj = dict[str, Any]


def _render(variant: str, workdir: Path) -> list[Obj]:
    if variant == "manifests":
        return kustomize(MANIFESTS)
    if variant.startswith("base+"):
        component = MANIFESTS / variant.removeprefix("base+")
        # As the user's own overlay would: the namespace once, there.
        return kustomize(overlay_of(workdir, components=[component], namespace="pushsvc"))
    return kustomize(MANIFESTS / variant)


@pytest.fixture(scope="module")
def remote_side() -> list[Obj]:
    return kustomize(REMOTE_SIDE)


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Obj]]:
    name: str = request.param
    return name, _render(name, tmp_path_factory.mktemp("variant"))


def _pods(objs: list[Obj]) -> list[tuple[Obj, Obj]]:
    """(owner, pod template) for every Deployment, Job and CronJob."""
    found = []
    for o in objs:
        if o["kind"] in ("Deployment", "Job"):
            found.append((o, o["spec"]["template"]))
        elif o["kind"] == "CronJob":
            found.append((o, o["spec"]["jobTemplate"]["spec"]["template"]))
    return found


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _named(objs: list[Obj], kind: str) -> dict[tuple[str | None, str], Obj]:
    return {(o["metadata"].get("namespace"), o["metadata"]["name"]): o
            for o in objs if o["kind"] == kind}


def test_the_variant_renders_and_every_object_passes_strict_validation(
        variant: tuple[str, list[Obj]], tmp_path: Path) -> None:
    _, objs = variant
    assert objs
    done = strict_validation(objs, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed for resource" in done.stdout + done.stderr


def test_every_workload_selector_matches_its_pod_labels(variant: tuple[str, list[Obj]]) -> None:
    _, objs = variant
    for owner, template in _pods(objs):
        labels = template["metadata"]["labels"]
        if owner["kind"] == "Deployment":
            assert _selects(owner["spec"]["selector"]["matchLabels"], labels)
            anti = template["spec"]["affinity"]["podAntiAffinity"]
            for term in anti["requiredDuringSchedulingIgnoredDuringExecution"]:
                assert _selects(term["labelSelector"]["matchLabels"], labels)
            for spread in template["spec"]["topologySpreadConstraints"]:
                assert _selects(spread["labelSelector"]["matchLabels"], labels)


def test_the_pdb_and_the_services_select_the_api_pods_on_a_port_they_have(
        variant: tuple[str, list[Obj]]) -> None:
    _, objs = variant
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
        assert [d for d in deployments if _selects(pdb["spec"]["selector"]["matchLabels"],
                                                   d["spec"]["template"]["metadata"]["labels"])]
    for service in (o for o in objs if o["kind"] == "Service"):
        selected = [d for d in deployments if _selects(
            service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert selected, service["metadata"]["name"]
        ports = {p["name"] for d in selected
                 for c in d["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_the_servicemonitor_selects_the_metrics_service(variant: tuple[str, list[Obj]]) -> None:
    _, objs = variant
    services = [o for o in objs if o["kind"] == "Service"]
    for monitor in (o for o in objs if o["kind"] == "ServiceMonitor"):
        selected = [s for s in services
                    if _selects(monitor["spec"]["selector"]["matchLabels"],
                                s["metadata"]["labels"])]
        assert [s["metadata"]["name"] for s in selected] == ["pushsvc-metrics"]


def test_every_service_account_a_pod_runs_as_exists_in_its_namespace(
        variant: tuple[str, list[Obj]]) -> None:
    _, objs = variant
    accounts = _named(objs, "ServiceAccount")
    for owner, template in _pods(objs):
        key = (owner["metadata"]["namespace"], template["spec"]["serviceAccountName"])
        assert key in accounts, f"{owner['kind']} {owner['metadata']['name']} runs as {key}"
        # The accounts do not mount their token; the pods that call the API opt in.
        assert accounts[key]["automountServiceAccountToken"] is False
        assert template["spec"]["automountServiceAccountToken"] is True


def test_every_role_binding_names_a_role_and_service_accounts_that_exist(
        variant: tuple[str, list[Obj]], remote_side: list[Obj]) -> None:
    _, objs = variant
    roles = _named(objs, "Role")
    # A subject of another namespace is the remote notifier's, which its own side creates.
    accounts = {**_named(objs, "ServiceAccount"), **_named(remote_side, "ServiceAccount")}
    for binding in (o for o in objs if o["kind"] == "RoleBinding"):
        ns = binding["metadata"]["namespace"]
        assert binding["roleRef"]["kind"] == "Role"
        assert (ns, binding["roleRef"]["name"]) in roles
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount"
            assert (subject["namespace"], subject["name"]) in accounts, subject
    assert not [o for o in objs if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_every_network_policy_selects_pods_and_admits_ports_they_have(
        variant: tuple[str, list[Obj]]) -> None:
    _, objs = variant
    pods = _pods(objs)
    for policy in (o for o in objs if o["kind"] == "NetworkPolicy"):
        spec = policy["spec"]
        selected = [t for _, t in pods
                    if _selects(spec["podSelector"]["matchLabels"], t["metadata"]["labels"])]
        assert selected, policy["metadata"]["name"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
        ports = {p["name"] for t in selected for c in t["spec"]["containers"]
                 for p in c.get("ports", [])}
        for rule in spec.get("ingress", []):
            assert {p["port"] for p in rule["ports"]} <= ports


def test_one_namespace_holds_every_namespaced_object_and_subject(
        variant: tuple[str, list[Obj]]) -> None:
    name, objs = variant
    expected = {"remote-notifier/batch": "batch", "overlays/other-namespace": "myteam",
                "overlays/full": "myteam"}.get(name, "pushsvc")
    cluster_scoped = {"FlowSchema", "PriorityLevelConfiguration"}
    assert {o["metadata"].get("namespace") for o in objs
            if o["kind"] not in cluster_scoped} == {expected}
    # kustomize (its built-in schema predates flowcontrol v1) sets metadata.namespace on the
    # two cluster-scoped APF objects too; the API server drops it for cluster-scoped kinds.
    assert {o["metadata"].get("namespace") for o in objs
            if o["kind"] in cluster_scoped} <= {expected}
    own = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"}
    for binding in (o for o in objs if o["kind"] == "RoleBinding"):
        for subject in binding["subjects"]:
            if subject["name"] in own:
                assert subject["namespace"] == expected
    for schema in (o for o in objs if o["kind"] == "FlowSchema"):
        accounts = [s["serviceAccount"] for r in schema["spec"]["rules"] for s in r["subjects"]
                    if s["kind"] == "ServiceAccount"]
        assert accounts and all(a["namespace"] == expected for a in accounts)


def test_the_full_overlay_holds_every_component() -> None:
    objs = kustomize(MANIFESTS / "overlays" / "full")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert {("ServiceMonitor", "pushsvc"), ("FlowSchema", "pushsvc"),
            ("PriorityLevelConfiguration", "pushsvc"), ("RoleBinding", "pushsvc-remote-notifier"),
            ("NetworkPolicy", "pushsvc-api"), ("NetworkPolicy", "pushsvc-notifier"),
            ("Role", "pushsvc-job-notify"), ("RoleBinding", "pushsvc-job-notify")} <= kinds
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example.com/pushsvc:0.1.0")
    settings = next(o for o in objs if o["kind"] == "ConfigMap"
                    and o["metadata"]["name"].startswith("pushsvc-settings"))
    assert settings["data"]["PUSHSVC_JOB_NOTIFY"] == "true"


def test_the_job_notify_component_grants_list_and_watch_on_jobs_only(tmp_path: Path) -> None:
    objs = kustomize(overlay_of(tmp_path, components=[MANIFESTS / "job-notify"],
                                namespace="pushsvc"))
    role = next(o for o in objs if o["kind"] == "Role"
                and o["metadata"]["name"] == "pushsvc-job-notify")
    assert role["rules"] == [{"apiGroups": ["batch"], "resources": ["jobs"],
                              "verbs": ["list", "watch"]}]
    binding = next(o for o in objs if o["kind"] == "RoleBinding"
                   and o["metadata"]["name"] == "pushsvc-job-notify")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "pushsvc-api",
                                    "namespace": "pushsvc"}]
