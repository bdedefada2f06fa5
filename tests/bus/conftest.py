"""Fixtures for the bus tests: watcher fakes here; the three-pod cluster in cluster.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emitter.kube import Backoff
from pushsvc.bus.watcher import Delivery, EventWatcher
from tests.bus.canned import NS, EndOfScript, FakeClock, ScriptedTransport
from tests.bus.cluster import (  # noqa: F401  (fixtures: the shared three-pod cluster,
    cluster,  # and small clusters of their own)
    cluster_factory,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def run_watcher(clock: FakeClock) -> Callable[..., tuple[list[Delivery], EventWatcher]]:
    """Run an EventWatcher over a script until the script ends; return what it delivered."""

    def run(steps: list[tuple[Any, ...]], **options: Any) -> tuple[list[Delivery], EventWatcher]:
        transport = ScriptedTransport(steps)
        watcher = EventWatcher(
            transport, namespace=NS, channel="pushsvc", timeout_seconds=300,
            backoff=options.pop("backoff", Backoff(initial=0.8, maximum=30.0, jitter=0.0)),
            sleep=clock.sleep, clock=clock, **options,
        )
        watcher.transport_calls = transport.calls  # type: ignore[attr-defined]
        delivered: list[Delivery] = []
        try:
            for delivery in watcher.deliveries():
                delivered.append(delivery)
        except EndOfScript:
            pass
        return delivered, watcher

    return run
