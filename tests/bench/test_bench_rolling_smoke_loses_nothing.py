"""``python -m bench rolling`` at smoke size: three pods behind the real HAProxy, each drained
with SIGTERM and restarted in turn while clients in three rooms receive numbered
notifications. Every client's rooms come back with its recovered session, so none misses a
message or gets one twice. Only correctness is checked; the times are the benchmark's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.starts_first

ROOT = Path(__file__).resolve().parents[2]


def test_a_rolling_restart_with_rooms_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "rolling", "--smoke", "--rolling-rooms", "3",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    scenario = json.loads((tmp_path / "latest.json").read_text())["scenarios"]["rolling"]
    assert not scenario["errors"], scenario["errors"]
    raw = scenario["raw"]
    assert raw["rooms"] == 3 and raw["sent"] > 0
    assert raw["connected"] == raw["clients"]
    assert raw["drops"] >= raw["clients"]  # every client lost its pod at least once
    assert (raw["lost"], raw["dups"], raw["newSessions"]) == (0, 0, 0), raw
    assert raw["recovered"] == raw["drops"]
