"""Run a user's test suite — a folder outside this project — with the installed plugin.

The plugin comes through its ``pytest11`` entry point only: the user's folder has no conftest
and no ``-p`` flag, and pytest runs in a subprocess from that folder, so nothing of this
project's own configuration (rootdir, conftest fixtures, sys.path) reaches it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

UserSuite = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def user_suite(tmp_path: Path) -> UserSuite:
    """Write ``files`` into a fresh project folder and run pytest there; returns the result."""

    def run(files: dict[str, str], *args: str, python: list[str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
        project = tmp_path / "user-project"
        project.mkdir(exist_ok=True)
        for name, text in files.items():
            (project / name).write_text(textwrap.dedent(text))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PUSHSVC_", "PYTEST_")) and k != "KUBECONFIG"}
        return subprocess.run(
            [*(python or [sys.executable]), "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-W", "error::pytest.PytestUnknownMarkWarning", *args],
            cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )

    return run
