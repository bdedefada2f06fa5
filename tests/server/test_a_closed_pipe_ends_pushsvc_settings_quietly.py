"""``pushsvc settings | head -1``: the reader leaves early, and the command stops without a
BrokenPipeError traceback (status 141, as for a process the pipe stopped)."""

from __future__ import annotations

import subprocess

from tests.support.pushsvc_proc import pushsvc_executable


def test_settings_into_head_prints_one_line_and_no_traceback() -> None:
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{pushsvc_executable()}' settings | head -1"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.stdout == "settings (environment variables):\n"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stderr == ""
    assert done.returncode == 141
