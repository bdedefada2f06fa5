"""The ``pushsvc`` pytest plugin: fixtures a user's own test suite gets by installing pushsvc.

Registered through the ``pytest11`` entry point, so ``pip install 'pushsvc[testing]'`` is
enough; like Kubernetes' envtest, it runs the real contract locally instead of a cluster.

- ``kube_api`` — an :class:`~pushsvc.testing.cluster.EmulatedCluster`: a fresh Kubernetes
  API emulator with the shipped ``rbac/`` loaded, kubeconfigs per ServiceAccount
  (``kubeconfig("pushsvc-notifier")``), a notifier's environment (``notifier_env()``,
  ``use_as_notifier(monkeypatch)``), the bus messages decoded (``messages()``) and faults
  (``fault("429", count=2)``). Options: ``@pytest.mark.kube_api(event_ttl=..., rbac_dir=...)``.
- ``push_topology`` — a started :class:`~pushsvc.testing.topology.LocalTopology`: N
  ``pushsvc serve`` pods on the Events bus, behind HAProxy with the shipped config. Options:
  ``@pytest.mark.push_topology(pods=2, haproxy=False, pod_env={...}, bus="kubernetes")``.
  It needs the server extra as well (and ``haproxy`` on PATH unless ``haproxy=False``).
- ``recorded_notifications`` — a :class:`~pushsvc.testing.recorder.RecordingTransport` that
  ``emitter.notify()`` publishes to for the test: no API server, no process;
  ``notifications()``, ``messages()``, ``events()``. Works on the notifier-only install.

pytest loads this module wherever pushsvc is installed, even the notifier-only base install,
so it imports nothing but pytest until a fixture runs. The names do not clash with this
project's own ``kubeapi`` / ``kubeapi_factory`` fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from pushsvc.testing.cluster import EmulatedCluster
    from pushsvc.testing.recorder import RecordingTransport
    from pushsvc.testing.topology import LocalTopology


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kube_api(**options): options of the kube_api fixture's emulator (event_ttl, "
        "compaction_interval, rbac_dir, anonymous)",
    )
    config.addinivalue_line(
        "markers",
        "push_topology(pods=3, haproxy=True, pod_env=None, bus='kubernetes'): options of "
        "the push_topology fixture",
    )


def _marker_options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"@pytest.mark.{name} takes keyword arguments only")
    return dict(marker.kwargs)


def _missing_extra(exc: ImportError, fixture: str, extras: str) -> NoReturn:
    pytest.fail(f"the {fixture} fixture needs pip install 'pushsvc[{extras}]' ({exc})",
                pytrace=False)


@pytest.fixture
def kube_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatedCluster]:
    """A fresh Kubernetes API emulator with pushsvc's RBAC, seen as pushsvc's namespace."""
    try:
        from pushsvc.testing.cluster import EmulatedCluster
        from pushsvc.testing.kubeapi import start_kubeapi
        from pushsvc.testing.shipped import shipped_rbac_dir
    except ImportError as exc:
        _missing_extra(exc, "kube_api", "testing")
    options = _marker_options(request, "kube_api")
    options.setdefault("rbac_dir", shipped_rbac_dir())
    with start_kubeapi(tmp_path_factory.mktemp("kube_api"), **options) as api:
        cluster = EmulatedCluster(api)
        try:
            yield cluster
        finally:
            cluster.close()


@pytest.fixture
def push_topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalTopology]:
    """N pushsvc pods on the emulated Events bus, behind HAProxy unless told otherwise."""
    try:
        import pushsvc.testing.kubeapi  # noqa: F401  (PyYAML, for the emulator's handle)
        from pushsvc.testing.topology import LocalTopology
    except ImportError as exc:
        _missing_extra(exc, "push_topology", "server,testing")
    options = _marker_options(request, "push_topology")
    with LocalTopology(tmp_path_factory.mktemp("push_topology"), **options) as topology:
        yield topology


@pytest.fixture
def recorded_notifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingTransport]:
    """``emitter.notify()`` publishes into a fresh RecordingTransport for this test."""
    from pushsvc.testing.recorder import RecordingTransport

    recorder = RecordingTransport()
    em = recorder.use_as_notifier(monkeypatch)
    try:
        yield recorder
    finally:
        em.close()
