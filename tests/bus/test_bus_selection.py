"""Which bus ``make_client_manager`` picks: memory outside a cluster unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushsvc.bus import make_client_manager
from pushsvc.bus.manager import KubernetesManager
from pushsvc.bus.rooms import IndexedManager
from pushsvc.settings import Settings

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: bus-ns}}]
current-context: x
"""


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return path


def test_memory_bus_is_the_default_outside_a_cluster_even_with_a_personal_kubeconfig(
    kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert isinstance(make_client_manager(Settings(bus="auto")), IndexedManager)


def test_auto_uses_kubernetes_when_pushsvc_kubeconfig_is_named(kubeconfig: Path) -> None:
    manager = make_client_manager(Settings(bus="auto", kubeconfig=str(kubeconfig)))
    assert isinstance(manager, KubernetesManager)
    assert manager.namespace == "bus-ns"


def test_memory_setting_wins_over_an_explicit_kubeconfig(kubeconfig: Path) -> None:
    assert isinstance(
        make_client_manager(Settings(bus="memory", kubeconfig=str(kubeconfig))), IndexedManager
    )
