"""The monitoring component renders with the workload (``kubectl kustomize``); its core objects
pass strict validation, and its prometheus-operator objects — CRDs that kubernetes-validate
does not know — are checked for what they must agree on: the ServiceMonitor selects the
metrics Service, scrapes a port it has, at /metrics."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring.conftest import MONITORING, REPO_ROOT, require_tool, run

K8S_VERSION = "1.33.0"
OPERATOR_GROUP = "monitoring.coreos.com/v1"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    # An overlay of the user's own, outside manifests/ (kustomize refuses one inside its base).
    overlay = tmp_path_factory.mktemp("overlay")
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "pushsvc",
        "resources": [os.path.relpath(REPO_ROOT / "manifests", overlay)],
        "components": [os.path.relpath(MONITORING, overlay)],
    }))
    done = run([require_tool("kubectl"), "kustomize", str(overlay)])
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def by_kind(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def test_core_objects_pass_strict_validation(rendered, tmp_path: Path):
    core = [o for o in rendered if o["apiVersion"] != OPERATOR_GROUP]
    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump_all(core))
    tool = str(Path(sys.executable).parent / "kubernetes-validate")
    done = run([tool, "--strict", "-k", K8S_VERSION, str(path)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_component_adds_a_servicemonitor_rules_and_the_dashboard(rendered):
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered}
    assert {("ServiceMonitor", "pushsvc"), ("PrometheusRule", "pushsvc"),
            ("Service", "pushsvc-metrics"), ("ConfigMap", "pushsvc-grafana-dashboard"),
            ("Deployment", "pushsvc")} <= kinds
    assert all(o["metadata"].get("namespace") == "pushsvc" for o in rendered)


def test_the_servicemonitor_scrapes_metrics_on_a_port_of_the_service_it_selects(rendered):
    monitor = by_kind(rendered, "ServiceMonitor", "pushsvc")["spec"]
    service = by_kind(rendered, "Service", "pushsvc-metrics")
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["selector"]["matchLabels"].items())
    # Only the metrics Service is selected, not the NodePort one (no double scrape).
    public = by_kind(rendered, "Service", "pushsvc")["metadata"]["labels"]
    assert not all(public.get(k) == v for k, v in monitor["selector"]["matchLabels"].items())
    ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in monitor["endpoints"]:
        assert endpoint["port"] in ports
        assert endpoint["path"] == "/metrics"
    deploy = by_kind(rendered, "Deployment", "pushsvc")["spec"]["template"]
    assert all(deploy["metadata"]["labels"].get(k) == v
               for k, v in service["spec"]["selector"].items())
    container_ports = {p["name"] for p in deploy["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    assert service["spec"]["clusterIP"] == "None"


def test_the_dashboard_configmap_holds_the_dashboard_for_grafanas_sidecar(rendered):
    cm = by_kind(rendered, "ConfigMap", "pushsvc-grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["pushsvc-dashboard.json"])
    assert dashboard == json.loads((MONITORING / "grafana-dashboard.json").read_text())
