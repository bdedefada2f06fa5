"""Job lifecycle pushes: batch/v1 Jobs labelled pushsvc.io/notify=true (docs/jobs.md)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from pushsvc.settings._section import Section, split_commas


class JobSettings(Section):
    """Which Jobs are watched, the event their transitions go out as, how many are remembered."""

    title: ClassVar[str] = "Job lifecycle pushes"

    job_notify: bool = Field(
        default=False,
        description="Push the lifecycle of batch/v1 Jobs labelled pushsvc.io/notify=true to "
        "the user or room their annotations name (kubernetes bus only). The janitor's Lease "
        "holder watches them, so PUSHSVC_JANITOR must be on. Needs list/watch on jobs: "
        "manifests/job-notify.",
    )
    job_notify_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated namespaces whose Jobs are watched (each needs the "
        "manifests/job-notify Role). Empty = the bus namespace.",
    )
    job_notify_event: str = Field(
        default="pushsvc_job",
        min_length=1,
        max_length=100,
        description="Socket.IO event name of a Job transition pushed to browsers.",
    )
    job_notify_max_jobs: int = Field(
        default=10_000,
        ge=1,
        description="Jobs whose sent transitions the watching pod remembers; beyond it the "
        "oldest is forgotten (its next transition is checked against the bus by name, 409).",
    )

    @field_validator("job_notify_namespaces", mode="before")
    @classmethod
    def _split_job_namespaces(cls, value: object) -> object:
        return split_commas(value)
