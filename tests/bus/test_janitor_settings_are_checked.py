"""The janitor's settings refuse what client-go's leader election refuses, and a retention
shorter than the connection-recovery window (recovery replays missed messages from the
Events the janitor would already have deleted)."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from pushsvc.settings import Settings


class _WithRecovery(Settings):
    """Settings as they are once the recovery feature adds its window."""

    recovery_window_seconds: float = Field(default=120.0)


def test_the_defaults_are_client_go_s() -> None:
    s = Settings()
    assert (s.janitor_lease_duration_seconds, s.janitor_renew_deadline_seconds,
            s.janitor_retry_period_seconds) == (15, 10.0, 2.0)
    assert s.retention_seconds == 300.0


def test_a_retention_below_the_recovery_window_is_refused() -> None:
    assert _WithRecovery(retention_seconds=120).retention_seconds == 120
    with pytest.raises(ValidationError, match="PUSHSVC_RETENTION_SECONDS .60. must be at least "
                                              "PUSHSVC_RECOVERY_WINDOW_SECONDS .120."):
        _WithRecovery(retention_seconds=60)


@pytest.mark.parametrize(("lease", "renew", "retry", "match"), [
    (10, 10.0, 2.0, "must exceed PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS"),
    (15, 2.0, 2.0, "must exceed 1.2 x PUSHSVC_JANITOR_RETRY_PERIOD_SECONDS"),
])
def test_lease_timings_client_go_refuses_are_refused(lease: int, renew: float, retry: float,
                                                     match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Settings(janitor_lease_duration_seconds=lease, janitor_renew_deadline_seconds=renew,
                 janitor_retry_period_seconds=retry)
