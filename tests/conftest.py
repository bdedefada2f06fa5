"""Shared fixtures for every test folder (a fresh Kubernetes API emulator per test), and the
test tiers: every collected test gets exactly one of the markers ``unit``, ``server``,
``topology`` and ``browser`` (docs/development.md, "Test tiers")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi


@pytest.fixture
def kubeapi(tmp_path: Path) -> Iterator[KubeAPI]:
    """An emulator with default settings and a state file in ``tmp_path``."""
    with start_kubeapi(tmp_path / "kubeapi") as api:
        yield api


@pytest.fixture
def kubeapi_factory(tmp_path: Path) -> Iterator[Callable[..., KubeAPI]]:
    """Start emulators with options: compaction_interval, event_ttl, rbac_dir, anonymous."""
    with ExitStack() as stack:
        counter = iter(range(1000))

        def factory(**options: Any) -> KubeAPI:
            workdir = tmp_path / f"kubeapi-{next(counter)}"
            return stack.enter_context(start_kubeapi(workdir, **options))

        yield factory


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "starts_first: a long module (a fresh virtualenv, the benchmark smoke run); `make test` "
        "runs modules in parallel, and these start first so that none is left running alone "
        "at the end",
    )


TIERS = ("unit", "server", "topology", "browser")

#: Fixtures that start several pods and/or HAProxy (directly or through the fixtures they use),
#: or make a whole install (``wheel``: a wheel built from a copy of the tree).
TOPOLOGY_FIXTURES = frozenset({
    "topology", "push_topology", "bus_topology", "memory_topology", "jwt_topology",
    "token_topology", "cluster", "cluster_factory", "two_pods", "padded", "kube_pods",
    "presence_cluster", "job_cluster", "three_pods", "demo_run", "wheel",
})
#: Fixtures that start one ``pushsvc serve``/gunicorn or one emulator.
SERVER_FIXTURES = frozenset({
    "kubeapi", "kubeapi_factory", "kube_api", "shared_kubeapi", "server_logs", "server",
    "bus_pod", "echo", "sio", "app_with", "engine_pushsvc", "serve_with", "admin_server",
    "plain_server", "admin_jwt_server", "user_suite",
})
#: The tier of a test that neither a marker nor its fixtures place: by its folder.
FOLDER_TIERS = {
    "unit": "unit", "server": "server", "engineio": "server", "emulator": "server",
    "admin": "server", "fuzz": "server", "monitoring": "server", "jobs": "unit",
    "bus": "unit", "emitter": "unit", "presence": "unit", "docs": "unit", "toolkit": "unit",
    "deploy": "server", "recovery": "topology", "bench": "topology",
}


def tier_of(item: pytest.Item) -> str:
    """An explicit tier marker (test, class or module) wins; then the fixtures the test uses
    (``item.fixturenames`` holds what they use in turn); then its folder."""
    for marker in item.iter_markers():
        if marker.name in TIERS:
            return marker.name
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & TOPOLOGY_FIXTURES:
        return "topology"
    if fixtures & SERVER_FIXTURES:
        return "server"
    parts = item.path.relative_to(Path(__file__).parent).parts
    return FOLDER_TIERS.get(parts[0], "unit") if len(parts) > 1 else "unit"


def tiers_of(item: pytest.Item) -> set[str]:
    """The tier markers ``-m`` sees on ``item`` (its own, its class's and its module's)."""
    return {marker.name for marker in item.iter_markers() if marker.name in TIERS}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test gets its tier marker (two explicit ones are a usage error); modules marked
    ``starts_first`` go to the front (the order is otherwise unchanged)."""
    ambiguous = []
    for item in items:
        tiers = tiers_of(item)
        if not tiers:
            item.add_marker(tier_of(item))
        elif len(tiers) > 1:
            ambiguous.append(f"{item.nodeid}: {', '.join(sorted(tiers))}")
    if ambiguous:
        raise pytest.UsageError("a test has more than one tier marker (give it one of "
                                f"{', '.join(TIERS)}):\n  " + "\n  ".join(ambiguous[:20]))
    items.sort(key=lambda item: item.get_closest_marker("starts_first") is None)
