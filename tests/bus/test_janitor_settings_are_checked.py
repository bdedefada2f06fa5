"""The janitor's timings always satisfy what client-go's leader election requires (the renew
deadline and retry period follow the lease duration in client-go's ratios), and a retention
shorter than the connection-recovery window plus its snapshot interval while recovery is on
(recovery replays missed messages, and reads session snapshots, from Events the janitor would
already have deleted)."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from pushsvc.settings import Settings
from pushsvc.settings.janitor import JANITOR_LEASE_NAME
from tests.support.pushsvc_proc import REPO_ROOT

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


@pytest.mark.parametrize("lease", [1, 2, 4, 15, 60, 3600])
def test_lease_timings_follow_the_lease_and_keep_client_go_s_rules(lease: int) -> None:
    s = Settings(janitor_lease_duration_seconds=lease)
    # client-go's NewLeaderElector refuses LeaseDuration <= RenewDeadline and
    # RenewDeadline <= JitterFactor (1.2) x RetryPeriod.
    assert s.janitor_lease_duration_seconds > s.janitor_renew_deadline_seconds
    assert s.janitor_renew_deadline_seconds > 1.2 * s.janitor_retry_period_seconds
    assert s.janitor_renew_deadline_seconds == pytest.approx(lease * 10 / 15)
    assert s.janitor_retry_period_seconds == pytest.approx(lease * 2 / 15)


def test_the_pass_interval_is_a_tenth_of_the_retention_and_the_lease_is_the_rbac_one() -> None:
    assert Settings(retention_seconds=2).janitor_interval_seconds == pytest.approx(0.2)
    assert Settings().janitor_interval_seconds == 30.0
    assert Settings().janitor_lease_name == "pushsvc-janitor"


def test_the_fixed_lease_name_is_the_one_rbac_grants() -> None:
    rules = [rule for doc in yaml.safe_load_all((REPO_ROOT / "rbac" / "api.yaml").read_text())
             if doc and doc.get("kind") == "Role" for rule in doc["rules"]
             if "leases" in rule["resources"] and "update" in rule["verbs"]
             and rule.get("resourceNames")]
    assert [rule["resourceNames"] for rule in rules] == [[JANITOR_LEASE_NAME]]
