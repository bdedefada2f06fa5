"""The retention janitor: the one pod holding its Lease deletes old bus Events
(pushsvc/bus/janitor.py)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pushsvc.settings._section import Section

#: The janitor's Lease, in the bus namespace: rbac/api.yaml grants get/update on this name
#: only, so it is not a setting.
JANITOR_LEASE_NAME = "pushsvc-janitor"


class JanitorSettings(Section):
    """Retention of the bus Events and the janitor's leader election."""

    title: ClassVar[str] = "Retention janitor"

    janitor: bool = Field(
        default=True,
        description="Run the retention janitor (kubernetes bus only): the pod holding the "
        "janitor Lease deletes bus Events older than PUSHSVC_RETENTION_SECONDS. Needs delete on "
        "events and the Lease grants of rbac/api.yaml.",
    )
    retention_seconds: float = Field(
        default=300.0,
        ge=1,
        description="Bus Events older than this are deleted by the janitor (long before the "
        "API server's 1 h event TTL). Never below the connection-recovery window. The "
        "janitor passes every tenth of it, so Events live at most 1.1 x this long; each pass "
        "lists every bus Event page by page.",
    )
    janitor_deletes_per_second: float = Field(
        default=200.0,
        gt=0,
        description="Most Event deletes per second the janitor sends (paced, no burst). Must "
        "exceed the rate bus Events are created, or the backlog grows.",
    )
    janitor_lease_duration_seconds: int = Field(
        default=15,
        ge=1,
        description="Lease duration (client-go LeaseDuration): candidates take the Lease over "
        "when its holder has not renewed for this long. The holder renews every 2/15 of it "
        "(RetryPeriod) and stops deleting after 2/3 of it without a renewal (RenewDeadline), "
        "client-go's 15 s / 10 s / 2 s ratios.",
    )

    @property
    def janitor_interval_seconds(self) -> float:
        """Seconds between the janitor's passes: a tenth of the retention (30 s by default)."""
        return self.retention_seconds / 10

    @property
    def janitor_lease_name(self) -> str:
        """The Lease that elects the janitor (:data:`JANITOR_LEASE_NAME`)."""
        return JANITOR_LEASE_NAME

    @property
    def janitor_renew_deadline_seconds(self) -> float:
        """client-go's RenewDeadline: 2/3 of the lease duration (10 s of 15 s). Always below
        the duration and above 1.2 x the retry period, client-go's two rules."""
        return self.janitor_lease_duration_seconds * 2 / 3

    @property
    def janitor_retry_period_seconds(self) -> float:
        """client-go's RetryPeriod: 2/15 of the lease duration (2 s of 15 s)."""
        return self.janitor_lease_duration_seconds * 2 / 15
