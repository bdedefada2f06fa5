"""Fixtures for the monitoring files (manifests/monitoring/): the tools, and the rules as the
plain Prometheus rule file that the PrometheusRule's spec is."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.pushsvc_proc import REPO_ROOT

MONITORING = REPO_ROOT / "manifests" / "monitoring"
#: Metric names in the rules and the dashboard that later work provides. Each entry says which;
#: the test fails once the name is exported, so the entry goes when the feature lands.
NOT_YET_EXPORTED: dict[str, str] = {}
_METRIC = re.compile(r"\bpushsvc_[a-z0-9_]+")


def require_tool(name: str) -> str:
    """Path of a command-line tool; fail (not skip) when missing, naming the fix."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; run ./scripts/setup.sh --all")
    return path


def run(cmd: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def metric_names(text: str) -> set[str]:
    """Every pushsvc_* name mentioned in ``text`` (PromQL expressions, annotations)."""
    return set(_METRIC.findall(text))


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A folder with pushsvc.rules.yaml (the PrometheusRule's spec) and alerts_test.yaml."""
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    (tmp_path / "pushsvc.rules.yaml").write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    shutil.copy(MONITORING / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    return tmp_path
