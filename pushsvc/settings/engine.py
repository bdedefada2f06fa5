"""The Engine.IO layer: the bounds that hold before any handler runs (pushsvc/engineio/)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from pushsvc.settings._section import Section, burst_of, split_commas


class EngineSettings(Section):
    """Engine.IO: its sessions, handshakes, packets and queues."""

    title: ClassVar[str] = "Engine.IO"

    connect_timeout_seconds: float = Field(
        default=45.0,
        gt=0,
        description="Seconds an Engine.IO session may stay without joining a Socket.IO "
        "namespace before it is closed (Node's connectTimeout).",
    )
    max_frames_per_message: int = Field(
        default=256,
        ge=1,
        description="WebSocket frames (count) one message may be split into; more closes "
        "the connection (1008).",
    )
    max_pending_upgrades: int = Field(
        default=1000,
        ge=1,
        description="WebSocket upgrades of polling sessions (count) not yet completed at "
        "once; past it upgrades get HTTP 503.",
    )
    upgrade_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a WebSocket opened to upgrade a polling session may take to "
        "send 2probe and 5; then it is closed (1008).",
    )
    max_queued_bytes_per_client: int = Field(
        default=1024 * 1024,
        ge=16 * 1024,
        description="Bytes of outgoing packets queued to one client (a client that does not "
        "read). Past it the client is disconnected (reason slow_reader) and its queue freed.",
    )
    max_binary_attachments: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Binary attachments one Socket.IO packet may announce (count). More "
        "closes the connection; a packet with its attachments counts toward the 4 x "
        "PUSHSVC_MAX_MESSAGE_BYTES hard limit. 0 refuses binary packets.",
    )
    max_json_depth: int = Field(
        default=32,
        ge=2,
        le=1000,
        description="Deepest nesting ([ and {) of a client packet's JSON (levels), checked "
        "before parsing; deeper packets get an 'error' event (code too_deep).",
    )
    max_sessions_total: int = Field(
        default=20000,
        ge=1,
        description="Engine.IO sessions (count) this process holds at once, handshake-only "
        "polling sessions included; past it handshakes get HTTP 503.",
    )
    max_sessions_per_address: int = Field(
        default=500,
        ge=1,
        description="Engine.IO sessions (count) from one client address; past it handshakes "
        "get HTTP 429. The address is the peer's, or X-Forwarded-For's from a trusted proxy.",
    )
    handshakes_per_second_per_address: float = Field(
        default=20.0,
        gt=0,
        description="Engine.IO handshakes per second (token bucket refill rate) from one "
        "client address; 5 s of it may come at once (the bucket); past it handshakes get "
        "HTTP 429.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or CIDRs of proxies (HAProxy) whose "
        "X-Forwarded-For is believed for per-address limits. Empty = the header is ignored "
        "and every client behind a proxy shares the proxy's address.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} in PUSHSVC_TRUSTED_PROXIES is not an address or CIDR "
                    "(e.g. 10.0.0.5 or 10.0.0.0/24)"
                ) from None
        return value

    @property
    def handshake_burst_per_address(self) -> int:
        """Handshakes one address may make at once: 5 s of its rate (100 by default)."""
        return burst_of(self.handshakes_per_second_per_address, 5.0)
