"""``python -m bench jobs`` at smoke size: every transition of every Job reaches alice's
client on each of the two pods exactly once and the report has its latency rows. Only
correctness is checked; the times are the benchmark's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_jobs_bench_reports_latency_with_nothing_missing_or_doubled(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "jobs", "--smoke", "--out",
                          str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    scenario = json.loads((tmp_path / "latest.json").read_text())["scenarios"]["jobs"]
    assert not scenario["errors"], scenario["errors"]
    raw = scenario["raw"]
    assert (raw["missing"], raw["duplicates"]) == (0, 0)
    assert raw["latency_ms"]["n"] == raw["transitions"] * raw["clients"] == 18
