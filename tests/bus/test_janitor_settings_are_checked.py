"""The janitor's settings refuse what client-go's leader election refuses, and a retention
shorter than the connection-recovery window plus its snapshot interval while recovery is on
(recovery replays missed messages, and reads session snapshots, from Events the janitor would
already have deleted)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pushsvc.settings import Settings

RECOVERY = {"recovery_enabled": True, "recovery_secret": "s" * 16,
            "recovery_window_seconds": 120, "recovery_snapshot_interval_seconds": 60}


def test_the_defaults_are_client_go_s() -> None:
    s = Settings()
    assert (s.janitor_lease_duration_seconds, s.janitor_renew_deadline_seconds,
            s.janitor_retry_period_seconds) == (15, 10.0, 2.0)
    assert s.retention_seconds == 300.0


def test_a_retention_below_the_recovery_window_and_snapshot_interval_is_refused() -> None:
    assert Settings(**RECOVERY, retention_seconds=180).retention_seconds == 180
    needed = (r"PUSHSVC_RETENTION_SECONDS \(179\) must be at least "
              r"PUSHSVC_RECOVERY_WINDOW_SECONDS \+ PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS "
              r"\(180\)")
    with pytest.raises(ValidationError, match=needed):
        Settings(**RECOVERY, retention_seconds=179)
    # Without recovery the window bounds nothing.
    assert Settings(retention_seconds=60, recovery_window_seconds=120).retention_seconds == 60


@pytest.mark.parametrize(("lease", "renew", "retry", "match"), [
    (10, 10.0, 2.0, "must exceed PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS"),
    (15, 2.0, 2.0, "must exceed 1.2 x PUSHSVC_JANITOR_RETRY_PERIOD_SECONDS"),
])
def test_lease_timings_client_go_refuses_are_refused(lease: int, renew: float, retry: float,
                                                     match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Settings(janitor_lease_duration_seconds=lease, janitor_renew_deadline_seconds=renew,
                 janitor_retry_period_seconds=retry)
