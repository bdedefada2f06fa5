"""``python -m bench overload`` at smoke size: three pods on the emulated bus, WebSocket clients
on each, notifications to everyone. The scenario reports, per pod, /healthz, /readyz and
/metrics latency, worker timeouts and kills, clients dropped and shed, the delivery lag and
deliveries/s; at this size no pod is overloaded, so none may lose its worker. Only the shape
of the report and the workers' survival are checked; the figures are the benchmark's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.starts_first

ROOT = Path(__file__).resolve().parents[2]


def test_the_overload_scenario_reports_every_pod_and_keeps_its_workers(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "overload", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    scenario = json.loads((tmp_path / "latest.json").read_text())["scenarios"]["overload"]
    assert not scenario["errors"], scenario["errors"]
    pods = scenario["raw"]["pods"]
    assert len(pods) == 3
    for pod in pods:
        assert pod["worker_timeouts"] == 0 and pod["worker_kills"] == 0, pod
        assert pod["delivered"] > 0 and pod["healthz_failures"] == 0, pod
        assert pod["per_second"]["/healthz"], pod
    assert any(row["figure"].endswith("/healthz worst latency") for row in scenario["rows"])
