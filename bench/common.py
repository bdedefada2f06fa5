"""Shared pieces of the scenarios: run sizes (full vs smoke), percentiles, results rows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    """How big each scenario runs; ``smoke`` keeps every one tiny so they never rot."""

    capacity_levels: tuple[int, ...] = (1000, 10000, 20000, 50000)
    fanout_rooms: tuple[int, ...] = (1000, 10000)
    fanout_bursts: int = 3
    fanout_burst_messages: int = 10
    bus_clients_per_pod: int = 50
    bus_rates: tuple[int, ...] = (10, 100, 500)
    bus_seconds: tuple[float, ...] = (10.0, 10.0, 6.0)
    ingest_events: int = 20000
    emitter_seconds: float = 5.0
    emitter_max: int = 5000
    emitter_batched_max: int = 50000
    # footprint: notifications/s for seconds against a retention (seconds; the janitor
    # passes every tenth of it)
    footprint_rate: int = 100
    footprint_seconds: float = 600.0
    footprint_retention: float = 120.0
    footprint_sample_every: float = 5.0
    footprint_relist_every: float = 30.0
    footprint_batched_seconds: float = 20.0
    rolling_clients: int = 2000
    rolling_rate: int = 100
    rolling_recovery: bool = True
    rolling_rooms: int = 0  # 0: every notification to everyone; K: to one of K rooms in turn
    rolling_reconnect_delay_ms: int = 1000  # socket.io-client's reconnectionDelay default
    # snapshots: clients over three pods, recovery on, this snapshot interval, watched this long
    snapshots_clients: int = 2000
    snapshots_interval: float = 30.0
    snapshots_seconds: float = 100.0
    snapshots_rate: int = 5
    # overload: WebSocket clients over three pods, notifications/s to everyone, for seconds
    overload_clients: int = 8000
    overload_rate: int = 10
    overload_seconds: float = 60.0


FULL = Sizes()
SMOKE = Sizes(
    capacity_levels=(20, 50),
    fanout_rooms=(20,),
    fanout_bursts=2,
    fanout_burst_messages=3,
    bus_clients_per_pod=3,
    bus_rates=(10, 100),
    bus_seconds=(0.5, 0.3),
    ingest_events=300,
    emitter_seconds=0.5,
    emitter_max=50,
    emitter_batched_max=200,
    footprint_rate=20,
    footprint_seconds=6.0,
    footprint_retention=2.0,
    footprint_sample_every=0.5,
    footprint_relist_every=2.0,
    footprint_batched_seconds=1.0,
    rolling_clients=20,
    rolling_rate=20,
    snapshots_clients=20,
    snapshots_interval=2.0,
    snapshots_seconds=4.0,
    overload_clients=30,
    overload_rate=5,
    overload_seconds=3.0,
)


@dataclass
class Context:
    sizes: Sizes
    out_dir: Path
    log_dir: Path
    smoke: bool


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else math.nan,
    }


@dataclass
class Row:
    """One line of the report table: a figure for pushsvc and its baseline."""

    figure: str
    pushsvc: float | None
    baseline: float | None
    unit: str
    target: str = ""
    higher_is_better: bool = True
    baseline_name: str = "Flask-SocketIO"
    #: The same figure for the floor of the stack (bench/floor_app.py), where it is measured.
    floor: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.pushsvc is None or self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.pushsvc / self.baseline

    @property
    def floor_ratio(self) -> float | None:
        if self.pushsvc is None or self.floor in (None, 0):
            return None
        assert self.floor is not None
        return self.pushsvc / self.floor


@dataclass
class ScenarioResult:
    name: str
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Failures that left a column empty (a server that did not start, ...); smoke test checks.
    errors: list[str] = field(default_factory=list)
