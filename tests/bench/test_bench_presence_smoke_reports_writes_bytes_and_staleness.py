"""``python -m bench.presence`` at smoke size: three pods on the emulator, 30 clients in one
room, a 1 s interval; the report has the Lease writes, the bytes stored, CPU per pod and the
staleness, and the room's presence counts every client. Only the shape is checked; the
figures are the benchmark's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.starts_first

ROOT = Path(__file__).resolve().parents[2]


def test_the_presence_bench_reports_its_figures_and_a_full_count() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.presence", "--clients", "30", "--seconds", "3",
         "--interval", "1", "--presence", "on"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    machine, report = out.stdout.strip().splitlines()[-2:]
    assert "cores" in machine
    result = json.loads(report)
    assert result["clients"] == 30 and result["stored_leases"] == 3
    assert result["lease_writes_per_s"] > 0 and result["event_creates_per_s"] == 0
    assert result["lease_bytes"] > 0 and len(result["cpu_per_pod_percent"]) == 3
    assert result["staleness_s_max"] > 0
    assert result["answer"]["count"] == 31 and set(result["answer"]["pods"]) == {
        "pod-0", "pod-1", "pod-2"}
