"""Every collected test has exactly one tier — ``unit``, ``server``, ``topology`` or
``browser`` — so ``make test-fast`` (``-m "unit or server"``) and the other tiers together run
the whole suite once (docs/development.md, "Test tiers"; the rule is in tests/conftest.py).
The report is what ``-m`` matches (each test's markers, its module's and class's included), so
``-m "not (unit or server or topology or browser)"`` selects nothing. Also where the rule
could guess wrong: a module that drives Chromium has a browser test, tests/unit/ is unit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pushsvc_proc import REPO_ROOT

pytestmark = pytest.mark.server  # pytest's collection of the whole suite, in a subprocess

def _collect(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = tmp_path / f"tiers-{len(list(tmp_path.iterdir()))}.json"
    env = {**os.environ, "PUSHSVC_TIER_REPORT": str(report)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "tests.support.tier_report",
         "-p", "no:cacheprovider", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    return done, json.loads(report.read_text()) if report.exists() else {}


def test_every_collected_test_has_exactly_one_tier(tmp_path: Path) -> None:
    done, tiers = _collect(tmp_path, "tests")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(tiers) > 1000  # the whole suite was collected
    wrong = {nodeid: t for nodeid, t in tiers.items() if len(t) != 1}
    assert not wrong, f"{len(wrong)} tests without exactly one tier: {list(wrong.items())[:10]}"

    by_file: dict[str, set[str]] = {}
    for nodeid, [tier] in tiers.items():
        by_file.setdefault(nodeid.split("::")[0], set()).add(tier)
    chromium = re.compile(r"_browser\.js|browser_\w+\.js|open_classic_page")  # the drivers
    for path, found in by_file.items():
        if path == f"tests/docs/{Path(__file__).name}":
            continue
        if path.startswith("tests/unit/"):
            assert found == {"unit"}, f"{path} is in tests/unit/ but has {found}"
        if chromium.search((REPO_ROOT / path).read_text()):
            assert "browser" in found, f"{path} drives Chromium but has no browser test"

