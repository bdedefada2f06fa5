"""The retention janitor: the one pod holding its Lease deletes old bus Events
(pushsvc/bus/janitor.py)."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from pushsvc.settings._section import Section


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
        "API server's 1 h event TTL). Never below the connection-recovery window.",
    )
    janitor_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between the janitor's passes; each lists every bus Event page by "
        "page (an etcd read of the whole set). Live Events stay near rate x (retention + "
        "interval): keep it at most a tenth of the retention.",
    )
    janitor_deletes_per_second: float = Field(
        default=200.0,
        gt=0,
        description="Most Event deletes per second the janitor sends (paced, no burst). Must "
        "exceed the rate bus Events are created, or the backlog grows.",
    )
    janitor_lease_name: str = Field(
        default="pushsvc-janitor",
        min_length=1,
        description="Name of the coordination.k8s.io Lease that elects the janitor, in the bus "
        "namespace. rbac/api.yaml grants get/update on this name only.",
    )
    janitor_lease_duration_seconds: int = Field(
        default=15,
        ge=1,
        description="Lease duration (client-go LeaseDuration): candidates take the Lease over "
        "when its holder has not renewed for this long.",
    )
    janitor_renew_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Renew deadline (client-go RenewDeadline): the holder stops deleting when "
        "it could not renew for this long. Below the lease duration.",
    )
    janitor_retry_period_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Retry period (client-go RetryPeriod): how often the holder renews and "
        "candidates try to acquire (with jitter).",
    )

    @model_validator(mode="after")
    def _check_lease(self) -> Self:
        if not self.janitor_lease_duration_seconds > self.janitor_renew_deadline_seconds:
            raise ValueError("PUSHSVC_JANITOR_LEASE_DURATION_SECONDS must exceed "
                             "PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS (client-go's rule)")
        if not self.janitor_renew_deadline_seconds > 1.2 * self.janitor_retry_period_seconds:
            raise ValueError("PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS must exceed 1.2 x "
                             "PUSHSVC_JANITOR_RETRY_PERIOD_SECONDS (client-go's rule)")
        return self
