"""``PUSHSVC_LOG_LEVEL=LOUD`` is refused like every other bad setting: the setting named, the
levels listed, exit 2 and no traceback. Any case of a real level is accepted."""

from __future__ import annotations

import subprocess

import pytest
from pydantic import ValidationError

from pushsvc.settings import Settings
from tests.support.pushsvc_proc import pushsvc_executable


def test_an_unknown_level_exits_2_naming_the_setting() -> None:
    done = subprocess.run([str(pushsvc_executable()), "serve"], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "PUSHSVC_LOG_LEVEL": "LOUD"},
                          check=False)
    assert done.returncode == 2
    assert done.stderr == (
        "pushsvc: invalid configuration:\n  PUSHSVC_LOG_LEVEL: Value error, must be one of "
        "DEBUG, INFO, WARNING, ERROR, CRITICAL\n")


def test_a_level_in_any_case_is_accepted_and_loud_is_not() -> None:
    assert Settings(log_level="warning").log_level == "WARNING"
    with pytest.raises(ValidationError):
        Settings(log_level="LOUD")
