"""What one client may do, and what all clients of a pod may publish: rooms, events, publishing
(pushsvc/sio/guards.py, pushsvc/sio/budget.py)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pushsvc.settings._section import Section, burst_of

#: Window (seconds) over which a client's refusals for rate are counted toward disconnecting it.
RATE_LIMITED_WINDOW_SECONDS = 10.0


class ClientLimitSettings(Section):
    """Per-client and per-pod budgets of the Socket.IO handlers."""

    title: ClassVar[str] = "Limits per client and per pod"

    max_rooms_per_client: int = Field(
        default=100,
        ge=1,
        description="Rooms one client may be in at once (its own sid room not counted). "
        "A join past it gets an 'error' event (code too_many_rooms).",
    )
    client_events_per_second: float = Field(
        default=20.0,
        gt=0,
        description="Events per second one client may send, on average (token bucket). "
        "Over budget: 'error' event (code rate_limited), the message is dropped. A client "
        "refused more than the larger of its burst and 5 s of this rate within 10 s is "
        "disconnected ('error' event code rate_limited_disconnect).",
    )
    client_events_burst: int = Field(
        default=40,
        ge=1,
        description="Events one client may send at once before client_events_per_second "
        "applies (the token bucket's size).",
    )
    publish_client_messages_per_second: float = Field(
        default=2.0,
        gt=0,
        description="Messages per second one client may publish to other pods "
        "(my_broadcast_event, my_room_event, close_room: each becomes a bus Event), "
        "on average; it may publish 5 s of it at once (the bucket). Over: 'error' event "
        "(code publish_rate_limited).",
    )
    publish_client_bytes_per_second: int = Field(
        default=16 * 1024,
        ge=1,
        description="Bytes per second (JSON size) one client may publish to other pods, "
        "on average; it may publish 2 x PUSHSVC_MAX_MESSAGE_BYTES at once (the bucket), "
        "so the largest message always passes.",
    )
    publish_pod_messages_per_second: float = Field(
        default=20.0,
        gt=0,
        description="Messages per second all clients of this pod together may publish; "
        "5 s of it at once (the bucket).",
    )
    publish_pod_bytes_per_second: int = Field(
        default=128 * 1024,
        ge=1,
        description="Bytes per second all clients of this pod together may publish; 8 x "
        "PUSHSVC_MAX_MESSAGE_BYTES at once (the bucket).",
    )

    @property
    def client_rate_limited_window_seconds(self) -> float:
        """Window of :attr:`client_rate_limited_disconnect_after` (10 s)."""
        return RATE_LIMITED_WINDOW_SECONDS

    @property
    def client_rate_limited_disconnect_after(self) -> int:
        """Refusals for rate within the window that disconnect a client: the larger of its
        burst and 5 s of its rate (100 by default: sending at 1.5 x the rate for 10 s)."""
        return max(self.client_events_burst, burst_of(self.client_events_per_second, 5.0))

    @property
    def publish_client_burst_messages(self) -> int:
        """Messages one client may publish at once: 5 s of its rate (10 by default)."""
        return burst_of(self.publish_client_messages_per_second, 5.0)

    @property
    def publish_pod_burst_messages(self) -> int:
        """Messages this pod's clients may publish at once: 5 s of its rate (100)."""
        return burst_of(self.publish_pod_messages_per_second, 5.0)
