"""``pushsvc settings | head -1``: the reader leaves early, and the command stops without a
BrokenPipeError traceback (status 141, as for a process the pipe stopped, when a write
met the closed pipe; 0 when everything fitted in the pipe before the reader left)."""

from __future__ import annotations

import subprocess

from tests.support.pushsvc_proc import pushsvc_executable


def _pipeline(reader: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{pushsvc_executable()}' settings | {reader}"],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_settings_into_head_prints_one_line_and_no_traceback() -> None:
    done = _pipeline("head -1")
    assert done.stdout == "settings (environment variables), by section:\n"
    assert done.stderr == ""  # no traceback, no "Exception ignored" at exit
    assert done.returncode in (0, 141)


def test_a_reader_gone_before_the_first_write_gives_status_141_and_no_traceback() -> None:
    done = _pipeline("true")  # exits long before the interpreter has started
    assert done.stderr == ""
    assert done.returncode == 141
