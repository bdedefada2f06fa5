"""The NetworkPolicy component admits only what the design needs.

API pods: in, the Socket.IO port (HAProxy through the NodePort, Prometheus); out, cluster DNS
and the API server (the Events bus). Notifiers: nothing in; out, the same two. Anything else a
pod might try (another pod's port, an outside host on a port other than the API server's) has
no rule. The variants test checks that the policies select pods and ports that exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import REPO_ROOT, kustomize, overlay_of

MANIFESTS = REPO_ROOT / "manifests"
DNS = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
API_SERVER_PORTS = [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Obj]:
    overlay = overlay_of(tmp_path_factory.mktemp("netpol"),
                         components=[MANIFESTS / "network-policy"], namespace="myteam")
    return {o["metadata"]["name"]: o["spec"] for o in kustomize(overlay)
            if o["kind"] == "NetworkPolicy"}


def _egress_is_dns_and_the_api_server(spec: Obj) -> None:
    dns, api = spec["egress"]
    assert dns == DNS
    assert api["ports"] == API_SERVER_PORTS
    assert all(set(peer) == {"ipBlock"} and "except" not in peer["ipBlock"]
               for peer in api["to"])


def test_api_pods_take_only_their_http_port_and_reach_only_dns_and_the_api_server(
        policies: dict[str, Obj]) -> None:
    spec = policies["pushsvc-api"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    _egress_is_dns_and_the_api_server(spec)


def test_notifiers_take_nothing_and_reach_only_dns_and_the_api_server(
        policies: dict[str, Obj]) -> None:
    spec = policies["pushsvc-notifier"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "notifier"
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in spec  # Ingress listed with no rule: nothing comes in
    _egress_is_dns_and_the_api_server(spec)


def test_the_docs_say_what_to_change_for_a_cluster() -> None:
    text = (REPO_ROOT / "docs" / "deployment.md").read_text()
    section = text.split("## NetworkPolicy", 1)[1].split("\n## ", 1)[0]
    for needle in ("endpointslices", "kubernetes.io/metadata.name", "k8s-app: kube-dns",
                   "ipBlock", "6443"):
        assert needle in section


def test_the_component_follows_the_overlays_namespace(tmp_path: Path) -> None:
    objs = kustomize(overlay_of(tmp_path, components=[MANIFESTS / "network-policy"],
                                namespace="elsewhere"))
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] == "NetworkPolicy"} == {
        "elsewhere"}
