"""Settings come in sections, and the settings removed in issue 22 are values derived from the
kept ones (or fixed), read under their old names: at the defaults each is what the removed
setting defaulted to, each follows what it is derived from, and each removed variable still
set is named in one warning with what replaced it."""

from __future__ import annotations

from typing import Any

import pytest

from pushsvc.settings import (
    REMOVED_SETTINGS,
    SECTIONS,
    Settings,
    removed_env_warnings,
    unknown_env_warnings,
)
from pushsvc.settings._section import burst_of
from pushsvc.settings.bus import BusSettings

#: The removed settings' defaults before issue 22 (all kept but one, see below).
OLD_DEFAULTS: dict[str, Any] = {
    "watch_read_timeout_seconds": 330.0,
    "watch_backoff_reset_seconds": 60.0,
    "janitor_interval_seconds": 30.0,
    "janitor_lease_name": "pushsvc-janitor",
    "janitor_renew_deadline_seconds": 10.0,
    "janitor_retry_period_seconds": 2.0,
    "client_rate_limited_disconnect_after": 100,
    "client_rate_limited_window_seconds": 10.0,
    "publish_client_burst_messages": 10,
    "publish_client_burst_bytes": 128 * 1024,
    "publish_pod_burst_messages": 100,
    "publish_pod_burst_bytes": 512 * 1024,
    "handshake_burst_per_address": 100,
    "connect_lockout_max_seconds": 900.0,
    "jwt_expiry_sweep_seconds": 1.0,
    "presence_client_queries_burst": 5,
    "recovery_snapshot_pod_burst_bytes": 2 * 1024 * 1024,
    "recovery_flush_seconds": 0.05,
    "recovery_history_max_pages": 200,
    "recovery_catch_up_seconds": 3.0,
}


def _attribute(env: str) -> str:
    return env.removeprefix("PUSHSVC_").lower()


def test_every_removed_setting_is_gone_and_readable_under_its_old_name() -> None:
    settings = Settings()
    assert len(REMOVED_SETTINGS) >= 20
    derived = {env for env, now in REMOVED_SETTINGS.items() if not now.startswith("removed:")}
    for env in REMOVED_SETTINGS:
        name = _attribute(env)
        assert name not in Settings.model_fields, name
        if env in derived:
            assert isinstance(getattr(type(settings), name), property), name
    assert set(OLD_DEFAULTS) | {"recovery_snapshot_refreshes_per_second"} == {
        _attribute(env) for env in derived}


@pytest.mark.parametrize(("name", "old"), sorted(OLD_DEFAULTS.items()))
def test_at_the_defaults_a_derived_value_is_the_removed_settings_default(name: str,
                                                                         old: Any) -> None:
    assert getattr(Settings(), name) == pytest.approx(old)


def test_the_refresh_rate_covers_every_session_four_times_per_interval() -> None:
    # Was a fixed 500/s; the rule it came with ("keep it above sessions / interval") now holds
    # by construction.
    assert Settings().recovery_snapshot_refreshes_per_second == pytest.approx(20000 * 4 / 150)
    s = Settings(max_sessions_total=3000, recovery_snapshot_interval_seconds=30)
    assert s.recovery_snapshot_refreshes_per_second == pytest.approx(400)


def test_derived_values_follow_what_they_are_derived_from() -> None:
    s = Settings(watch_timeout_seconds=4, watch_backoff_max_seconds=2, retention_seconds=40,
                 janitor_lease_duration_seconds=3, client_events_per_second=30,
                 client_events_burst=200, publish_client_messages_per_second=0.6,
                 publish_pod_messages_per_second=0.001, max_message_bytes=1024,
                 max_queued_bytes_per_client=16 * 1024,
                 handshakes_per_second_per_address=0.01, connect_lockout_seconds=2,
                 presence_client_queries_per_second=50,
                 recovery_snapshot_pod_bytes_per_second=1)
    assert s.watch_read_timeout_seconds == 6.0  # at least 2 s past the server's timeout
    assert Settings(watch_timeout_seconds=600).watch_read_timeout_seconds == 660.0
    assert s.watch_backoff_reset_seconds == 4.0
    assert s.janitor_interval_seconds == 4.0
    assert (s.janitor_renew_deadline_seconds, s.janitor_retry_period_seconds) == (
        pytest.approx(2.0), pytest.approx(0.4))
    assert s.client_rate_limited_disconnect_after == 200  # the burst, larger than 5 s of 30/s
    assert Settings(client_events_burst=5).client_rate_limited_disconnect_after == 100
    assert s.publish_client_burst_messages == 3
    assert s.publish_pod_burst_messages == 1  # never below one message
    assert (s.publish_client_burst_bytes, s.publish_pod_burst_bytes) == (2048, 8192)
    assert s.handshake_burst_per_address == 1
    assert s.connect_lockout_max_seconds == 60.0
    assert s.presence_client_queries_burst == 250
    assert s.recovery_snapshot_pod_burst_bytes == 4096  # the largest snapshot still fits


@pytest.mark.parametrize(("rate", "seconds", "burst"), [
    (0.6, 5.0, 3), (2.0, 5.0, 10), (0.001, 5.0, 1), (0.21, 5.0, 2), (1e6, 5.0, 5_000_000),
])
def test_a_burst_holds_its_seconds_of_the_rate_rounded_up_and_at_least_one(
    rate: float, seconds: float, burst: int,
) -> None:
    assert burst_of(rate, seconds) == burst


def test_a_removed_variable_still_set_is_named_with_what_replaced_it() -> None:
    env = {"PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS": "8", "PUSHSVC_PUBLISH_POD_BURST_BYTES": "1",
           "PUSHSVC_PORT": "5000"}
    assert removed_env_warnings(env) == [
        "PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS is no longer a setting and is ignored; now "
        "derived: 2/3 of PUSHSVC_JANITOR_LEASE_DURATION_SECONDS (client-go's 10 s of 15 s)",
        "PUSHSVC_PUBLISH_POD_BURST_BYTES is no longer a setting and is ignored; now derived: "
        "8 x PUSHSVC_MAX_MESSAGE_BYTES (512 KiB by default)",
    ]
    # Named once, by the line above, not also as a misspelling.
    assert unknown_env_warnings(env) == []
    assert removed_env_warnings({"PUSHSVC_PORT": "5000"}) == []


def test_a_removed_variable_changes_nothing() -> None:
    env = {env: "7" for env in REMOVED_SETTINGS} | {"PUSHSVC_JANITOR_LEASE_NAME": "other"}
    settings = Settings()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert Settings().model_dump() == settings.model_dump()
        assert Settings().janitor_lease_name == "pushsvc-janitor"


def test_every_setting_is_in_exactly_one_section_and_a_section_reads_alone() -> None:
    names = [name for section in SECTIONS for name in section.model_fields]
    assert sorted(names) == sorted(Settings.model_fields) and len(names) == len(set(names))
    assert len(Settings.model_fields) <= 102  # 123 before issue 22, less the 21 removed
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUSHSVC_BUS_CHANNEL", "orders")
        patch.setenv("PUSHSVC_WATCH_TIMEOUT_SECONDS", "60")
        section = BusSettings()
        assert (section.bus_channel, section.watch_read_timeout_seconds) == ("orders", 66.0)
        assert Settings().bus_channel == "orders"
