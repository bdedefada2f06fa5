"""The benchmark's smoke mode runs every scenario at a tiny size, so the benchmarks never rot.

Only the shape of the report is checked: performance is measured by
``python -m bench``, never asserted in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import SCENARIOS

pytestmark = pytest.mark.starts_first

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_writes_a_json_report_with_every_scenario(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["smoke"] is True
    assert set(report["scenarios"]) == set(SCENARIOS)
    for name, scenario in report["scenarios"].items():
        assert not scenario["errors"], f"scenario {name}: {scenario['errors']}"
        assert scenario["rows"], f"scenario {name} reported no figure"
        assert any(row["baseline"] is not None or row["pushsvc"] is not None
                   for row in scenario["rows"]), name
    assert report["machine"]["cores"] >= 1
    assert (tmp_path / "table.md").read_text().count("|") > 10
