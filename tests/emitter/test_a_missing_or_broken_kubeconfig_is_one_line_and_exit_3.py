"""A kubeconfig that is not there or is not YAML: ``pushsvc-notify`` and ``pushsvc serve``
(Kubernetes bus) both print one line naming the file and exit 3 (configuration), with no
traceback, before anything is sent or served."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pushsvc.testing.procs import console_script

pytestmark = pytest.mark.server  # it starts its processes itself

BROKEN = "apiVersion: v1\nclusters: [\n  - name: x\n  bad: : :\n"


def _run(command: list[str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(home), **env})


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    return path


def test_notify_with_a_broken_kubeconfig_names_the_file_and_the_line(
    tmp_path: Path, broken: Path
) -> None:
    for how in ({"KUBECONFIG": str(broken)}, {}):
        args = [] if how else ["--kubeconfig", str(broken)]
        line = _one_line(_run([console_script("pushsvc-notify"), "--event", "e", *args], how,
                              tmp_path))
        assert line.startswith(f"pushsvc-notify: error: kubeconfig {broken} is not valid YAML: ")
        assert "line 3" in line


def test_notify_with_kubeconfig_naming_no_file_says_so(tmp_path: Path) -> None:
    line = _one_line(_run([console_script("pushsvc-notify"), "--event", "e"],
                          {"KUBECONFIG": "/nonexistent"}, tmp_path))
    assert "$KUBECONFIG names /nonexistent, which does not exist" in line
    assert "set KUBECONFIG" not in line


def test_serve_with_a_broken_kubeconfig_names_the_file(tmp_path: Path, broken: Path) -> None:
    line = _one_line(_run([console_script("pushsvc"), "serve"],
                          {"PUSHSVC_KUBECONFIG": str(broken), "PUSHSVC_PORT": "0"}, tmp_path))
    assert line.startswith(f"pushsvc: kubeconfig {broken} is not valid YAML: ")
    assert "line 3" in line


def test_serve_with_missing_kubeconfigs_says_which(tmp_path: Path) -> None:
    line = _one_line(_run([console_script("pushsvc"), "serve"],
                          {"PUSHSVC_KUBECONFIG": str(tmp_path / "nope"), "PUSHSVC_PORT": "0"},
                          tmp_path))
    assert line == f"pushsvc: kubeconfig {tmp_path / 'nope'} (PUSHSVC_KUBECONFIG) does not exist"
    line = _one_line(_run([console_script("pushsvc"), "serve"],
                          {"PUSHSVC_BUS": "kubernetes", "KUBECONFIG": "/nonexistent",
                           "PUSHSVC_PORT": "0"}, tmp_path))
    assert "$KUBECONFIG names /nonexistent, which does not exist" in line


def test_serve_with_a_yaml_kubeconfig_that_is_not_usable_exits_3_without_a_traceback(
    tmp_path: Path,
) -> None:
    # YAML, so only the worker's kubernetes client finds it wrong: its line, then gunicorn's.
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    done = _run([console_script("pushsvc"), "serve"],
                {"PUSHSVC_KUBECONFIG": str(empty), "PUSHSVC_PORT": "0"}, tmp_path)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert f"ERROR pushsvc.cli: pushsvc: kubeconfig {empty} is not usable: " in done.stderr
