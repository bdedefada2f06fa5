"""Presence across pods: each pod's summary of its rooms in a Lease (docs/presence.md)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from pushsvc.settings._section import Section, burst_of, split_commas


class PresenceSettings(Section):
    """Presence summaries, their bounds, notices, and the questions a client may ask."""

    title: ClassVar[str] = "Presence"

    presence: bool = Field(
        default=True,
        description="Presence across pods: each pod writes one summary of its rooms per "
        "interval into a coordination.k8s.io Lease of its own and watches the others' "
        "(kubernetes bus; the memory bus answers for this process only).",
    )
    presence_interval_seconds: float = Field(
        default=5.0,
        ge=0.5,
        le=60,
        description="Seconds between a pod's presence summaries (one Lease update each). "
        "The Lease lasts 3 intervals: a pod that dies without notice drops out of every "
        "answer within 3 intervals of its last summary.",
    )
    presence_max_rooms: int = Field(
        default=1000,
        ge=1,
        description="Rooms one pod's summary carries, at most (largest first); the rest are "
        "counted as dropped and answers that may involve them say truncated.",
    )
    presence_max_members: int = Field(
        default=2000,
        ge=0,
        description="Members (sid, user, since) one pod's summary lists, at most, over all "
        "its rooms; counts stay exact, answers with unlisted members say truncated.",
    )
    presence_max_summary_bytes: int = Field(
        default=128 * 1024,
        ge=1024,
        le=250_000,
        description="JSON bytes of one pod's summary (a Lease annotation; the API server "
        "allows 256 KiB of annotations per object), at most.",
    )
    presence_list_max: int = Field(
        default=100,
        ge=0,
        description="Members listed in one presence answer, at most (the count is not "
        "capped); a longer list is cut and the answer says truncated.",
    )
    presence_notice_rooms: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated room names or prefix patterns ('team-*') whose members "
        "get a pushsvc_presence notice when members joined or left (derived from the "
        "summaries: at most one per room per interval). Empty = no notices.",
    )
    presence_client_queries_per_second: float = Field(
        default=1.0,
        gt=0,
        description="Presence questions (event pushsvc_presence) one client may ask per "
        "second (5 s of it at once); more are refused with code rate_limited.",
    )

    @field_validator("presence_notice_rooms", mode="before")
    @classmethod
    def _split_notice_rooms(cls, value: object) -> object:
        return split_commas(value)

    @property
    def presence_client_queries_burst(self) -> int:
        """Presence questions one client may ask at once: 5 s of its rate (5 by default)."""
        return burst_of(self.presence_client_queries_per_second, 5.0)
