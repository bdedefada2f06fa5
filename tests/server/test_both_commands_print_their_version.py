"""``pushsvc --version`` and ``pushsvc-notify --version`` print the installed version, exit 0."""

from __future__ import annotations

import subprocess
from importlib.metadata import version

import pytest

from pushsvc.testing.procs import console_script


@pytest.mark.parametrize("command", ["pushsvc", "pushsvc-notify"])
def test_version_is_printed_with_the_command_name(command: str) -> None:
    done = subprocess.run([console_script(command), "--version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{command} {version('pushsvc')}\n"
    assert done.stderr == ""
