"""``pip install pushsvc`` (the notifier side: kubernetes and pydantic, no server extra) into a
fresh virtualenv: ``pushsvc-notify`` works, and ``pushsvc`` says in one line which extra to
install and exits 2 instead of dying with ModuleNotFoundError; ``--version`` works in both.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import clean_env, fresh_venv

pytestmark = pytest.mark.starts_first


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True,
                          text=True, timeout=60, env=clean_env(), cwd=venv, check=False)


def test_pushsvc_without_the_server_extra_says_which_extra_to_install(
    tmp_path: Path, wheel: Path
) -> None:
    venv = fresh_venv(tmp_path, str(wheel))
    assert _run(venv, "python", "-c", "import flask").returncode != 0  # no server extra
    for command in (["serve"], ["settings"], ["serve", "myapp:app"], []):
        done = _run(venv, "pushsvc", *command)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith("pushsvc: the server is not installed (no flask")
        assert line.endswith("pip install 'pushsvc[server]'")
    version = _run(venv, "pushsvc", "--version")
    assert version.returncode == 0 and version.stdout.startswith("pushsvc ")
    notify = _run(venv, "pushsvc-notify", "--version")
    assert notify.returncode == 0 and notify.stdout.startswith("pushsvc-notify ")
    # The notifier itself runs: with no Kubernetes configuration, its one-line exit 3.
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run([str(venv / "bin" / "pushsvc-notify"), "--event", "e"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**clean_env(), "HOME": str(home)})
    assert done.returncode == 3 and "no Kubernetes configuration" in done.stderr, done.stderr
