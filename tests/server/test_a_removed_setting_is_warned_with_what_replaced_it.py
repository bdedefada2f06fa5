"""A ``PUSHSVC_*`` variable that was a setting before issue 22 (now derived from another, or
fixed) is not silently ignored: ``pushsvc serve`` logs one warning naming it and what
replaced it, and the server runs with the derived value."""

from __future__ import annotations

from pathlib import Path

from tests.support import start_pushsvc


def test_serve_warns_once_about_a_removed_setting_and_runs(artifacts_dir: Path) -> None:
    env = {"PUSHSVC_CLIENT_RATE_LIMITED_WINDOW_SECONDS": "3600",
           "PUSHSVC_WATCH_READ_TIMEOUT_SECONDS": "6"}
    with start_pushsvc(env=env, log_dir=artifacts_dir) as pod:
        log = pod.read_log()
    for line in (
        "WARNING pushsvc.app: PUSHSVC_CLIENT_RATE_LIMITED_WINDOW_SECONDS is no longer a "
        "setting and is ignored; now fixed: 10 s",
        "WARNING pushsvc.app: PUSHSVC_WATCH_READ_TIMEOUT_SECONDS is no longer a setting and "
        "is ignored; now derived: PUSHSVC_WATCH_TIMEOUT_SECONDS plus a tenth, at least 2 s "
        "(330 s by default)",
    ):
        assert log.count(line) == 1, log[-3000:]
    assert "is not a pushsvc setting" not in log
