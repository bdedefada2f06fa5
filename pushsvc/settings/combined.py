"""The one ``Settings`` object: every section, and the rules that tie sections together.

Built once at start-up and passed down; nothing else in the code reads the environment.
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from pushsvc.settings._section import Section
from pushsvc.settings.admin import AdminSettings
from pushsvc.settings.bus import BusSettings
from pushsvc.settings.clients import ClientSettings
from pushsvc.settings.connects import ConnectGuardSettings
from pushsvc.settings.engine import EngineSettings
from pushsvc.settings.identity import IdentitySettings
from pushsvc.settings.janitor import JanitorSettings
from pushsvc.settings.jobs import JobSettings
from pushsvc.settings.limits import ClientLimitSettings
from pushsvc.settings.presence import PresenceSettings
from pushsvc.settings.recovery import RecoverySettings
from pushsvc.settings.serving import ServingSettings

#: The sections in the order ``pushsvc serve --help`` and docs/configuration.md list them.
SECTIONS: tuple[type[Section], ...] = (
    ServingSettings, ClientSettings, EngineSettings, ClientLimitSettings, ConnectGuardSettings,
    BusSettings, JanitorSettings, JobSettings, IdentitySettings, RecoverySettings,
    PresenceSettings, AdminSettings,
)


class Settings(
    ServingSettings, ClientSettings, EngineSettings, ClientLimitSettings, ConnectGuardSettings,
    BusSettings, JanitorSettings, JobSettings, IdentitySettings, RecoverySettings,
    PresenceSettings, AdminSettings,
):
    """pushsvc settings. Units are in the field names or descriptions.

    The read-only properties below (and those of the sections) are values derived from the
    settings that were once settings of their own (``REMOVED_SETTINGS`` says what replaced
    each): call sites read them as before.
    """

    @property
    def publish_client_burst_bytes(self) -> int:
        """Bytes one client may publish at once: two of the largest messages (128 KiB)."""
        return 2 * self.max_message_bytes

    @property
    def publish_pod_burst_bytes(self) -> int:
        """Bytes this pod's clients may publish at once: eight of the largest messages
        (512 KiB)."""
        return 8 * self.max_message_bytes

    @property
    def recovery_snapshot_refreshes_per_second(self) -> float:
        """Most periodic snapshot refreshes per second: 4 x the most sessions this pod holds
        over the snapshot interval (20,000 / 150 s x 4 = 533/s by default), so a backlog
        drains in a quarter of the interval."""
        return 4 * self.max_sessions_total / self.recovery_snapshot_interval_seconds

    @model_validator(mode="after")
    def _check_across_sections(self) -> Self:
        if self.max_queued_bytes_per_client < self.hard_message_limit_bytes:
            raise ValueError(
                "PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT must be at least 4 x "
                f"PUSHSVC_MAX_MESSAGE_BYTES ({self.hard_message_limit_bytes}), or one large "
                "message would disconnect its reader"
            )
        if self.demo_tokens and not (
            self.demo_page and self.effective_auth_mode == "jwt" and self.jwt_secret is not None
        ):
            raise ValueError("PUSHSVC_DEMO_TOKENS needs PUSHSVC_DEMO_PAGE, "
                             "PUSHSVC_AUTH_MODE=jwt and PUSHSVC_JWT_SECRET")
        # Recovery replays missed messages from the Events, and a session's snapshot is
        # published again every snapshot interval: both must outlive the window.
        needed = self.recovery_window_seconds + self.recovery_snapshot_interval_seconds
        if self.recovery_enabled and self.retention_seconds < needed:
            raise ValueError(
                f"PUSHSVC_RETENTION_SECONDS ({self.retention_seconds:g}) must be at least "
                f"PUSHSVC_RECOVERY_WINDOW_SECONDS + PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS "
                f"({needed:g}): recovery reads missed messages and session snapshots from bus "
                "Events the janitor would already have deleted")
        if self.job_notify and not self.janitor:
            raise ValueError("PUSHSVC_JOB_NOTIFY needs PUSHSVC_JANITOR: the Job notifier runs "
                             "on the janitor's Lease holder and relies on its retention window "
                             "(docs/jobs.md)")
        return self
