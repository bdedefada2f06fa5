"""``python -m bench snapshots`` at smoke size: three pods with recovery on and a 2 s snapshot
interval; the scenario reports the bus lag and the snapshots published for every second it
watched, and the pods it ran were ones that spread their refreshes. Only the shape of the
report is checked; the figures are the benchmark's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.starts_first

ROOT = Path(__file__).resolve().parents[2]


def test_the_snapshots_scenario_reports_every_second_it_watched(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "snapshots", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    scenario = json.loads((tmp_path / "latest.json").read_text())["scenarios"]["snapshots"]
    assert not scenario["errors"], scenario["errors"]
    raw = scenario["raw"]
    assert raw["spread"] is True
    assert [int(s["t"]) for s in raw["seconds"]] == list(range(1, len(raw["seconds"]) + 1))
    assert sum(s["snapshots"] for s in raw["seconds"]) > 0
    assert len(scenario["rows"]) == 4
