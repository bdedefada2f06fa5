"""Refused Socket.IO CONNECTs, per connection and per address (pushsvc/sio/connect_guard.py)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pushsvc.settings._section import Section


class ConnectGuardSettings(Section):
    """Budgets of refused CONNECTs and Admin UI logins, and the lockouts past them."""

    title: ClassVar[str] = "Refused connects"

    connect_refusals_per_connection: int = Field(
        default=5,
        ge=1,
        description="Refused Socket.IO CONNECTs (count) one Engine.IO connection may have; the "
        "next CONNECT on it gets connect_error too_many_attempts, unchecked, and the "
        "connection is closed.",
    )
    connect_refusals_per_address: int = Field(
        default=100,
        ge=0,
        description="Refused CONNECTs (count, a token bucket refilled over "
        "PUSHSVC_CONNECT_REFUSAL_WINDOW_SECONDS) from one client address before it is locked "
        "out: its CONNECTs are then refused at once with too_many_attempts and retry_after. "
        "The address is the peer's, or X-Forwarded-For's from a trusted proxy. 0 = no "
        "per-address budget.",
    )
    connect_refusal_window_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Seconds over which an address's PUSHSVC_CONNECT_REFUSALS_PER_ADDRESS "
        "budget refills.",
    )
    admin_ui_login_failures_per_address: int = Field(
        default=5,
        ge=0,
        description="Refused Admin UI logins (/admin CONNECTs; count, refilled over "
        "PUSHSVC_ADMIN_UI_LOGIN_WINDOW_SECONDS) from one address before it is locked out of "
        "/admin: even the right password is refused until the lockout ends. 0 = no "
        "per-address budget.",
    )
    admin_ui_login_window_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Seconds over which an address's PUSHSVC_ADMIN_UI_LOGIN_FAILURES_PER_ADDRESS "
        "budget refills.",
    )
    connect_lockout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="First lockout (seconds) of an address that spent its refused-CONNECT "
        "budget; each lockout that follows (the one CONNECT checked after a lockout fails "
        "again) lasts twice as long, up to 30 x this (900 s by default); an address quiet "
        "that long after a lockout starts again from this.",
    )

    @property
    def connect_lockout_max_seconds(self) -> float:
        """The longest lockout: 30 x the first (900 s by default), five doublings."""
        return 30 * self.connect_lockout_seconds
