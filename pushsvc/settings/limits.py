"""What one client may do, and what all clients of a pod may publish: rooms, events, publishing
(pushsvc/handlers.py, pushsvc/budget.py)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pushsvc.settings._section import Section


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
        "Over budget: 'error' event (code rate_limited), the message is dropped.",
    )
    client_events_burst: int = Field(
        default=40,
        ge=1,
        description="Events one client may send at once before client_events_per_second "
        "applies (the token bucket's size).",
    )
    client_rate_limited_disconnect_after: int = Field(
        default=100,
        ge=1,
        description="A client refused this many messages for rate (rate_limited) within "
        "client_rate_limited_window_seconds is disconnected (reason in an 'error' event, "
        "code rate_limited_disconnect).",
    )
    client_rate_limited_window_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Window, in seconds, of client_rate_limited_disconnect_after.",
    )
    publish_client_messages_per_second: float = Field(
        default=2.0,
        gt=0,
        description="Messages per second one client may publish to other pods "
        "(my_broadcast_event, my_room_event, close_room: each becomes a bus Event), "
        "on average. Over: 'error' event (code publish_rate_limited).",
    )
    publish_client_burst_messages: int = Field(
        default=10, ge=1, description="Messages one client may publish at once (bucket size)."
    )
    publish_client_bytes_per_second: int = Field(
        default=16 * 1024,
        ge=1,
        description="Bytes per second (JSON size) one client may publish to other pods, "
        "on average.",
    )
    publish_client_burst_bytes: int = Field(
        default=128 * 1024,
        ge=1024,
        description="Bytes one client may publish at once (bucket size); at least "
        "max_message_bytes, or the largest messages could never pass.",
    )
    publish_pod_messages_per_second: float = Field(
        default=20.0,
        gt=0,
        description="Messages per second all clients of this pod together may publish.",
    )
    publish_pod_burst_messages: int = Field(
        default=100, ge=1, description="Messages this pod's clients may publish at once."
    )
    publish_pod_bytes_per_second: int = Field(
        default=128 * 1024,
        ge=1,
        description="Bytes per second all clients of this pod together may publish.",
    )
    publish_pod_burst_bytes: int = Field(
        default=512 * 1024,
        ge=1024,
        description="Bytes this pod's clients may publish at once (bucket size).",
    )
