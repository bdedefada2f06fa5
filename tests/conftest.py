"""Shared fixtures for every test folder: a fresh Kubernetes API emulator per test."""

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules marked ``starts_first`` go to the front; the order is otherwise unchanged."""
    items.sort(key=lambda item: item.get_closest_marker("starts_first") is None)
