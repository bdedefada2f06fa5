"""Serving: where gunicorn binds, how many connections it holds, how it stops, how it logs."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from pushsvc.settings._section import Section

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

class ServingSettings(Section):
    """The process: bind address, connection cap, shutdown, logging."""

    title: ClassVar[str] = "Serving"

    host: str = Field(
        default="127.0.0.1", description="Address to bind (use 0.0.0.0 in a container)."
    )
    port: int = Field(default=5000, ge=0, le=65535, description="TCP port to bind.")
    worker_connections: int = Field(
        default=20000,
        ge=10,
        description="gunicorn --worker-connections: cap on the open HTTP requests "
        "(long-polls, health checks, WebSocket handshakes) of the one gevent worker; an open "
        "WebSocket leaves it and counts toward PUSHSVC_MAX_SESSIONS_TOTAL. pushsvc serve "
        "lifts the soft ulimit -n to fit both.",
    )
    shutdown_grace_seconds: float = Field(
        default=20.0,
        gt=0,
        description="On SIGTERM: the process exits within this time. Clients are told "
        "(server_shutdown) and disconnected in the first part, gunicorn's graceful_timeout "
        "(whole seconds) bounds the rest. Keep it below the pod's terminationGracePeriodSeconds.",
    )
    shutdown_delay_seconds: float = Field(
        default=0.0,
        ge=0,
        description="On SIGTERM: seconds to keep serving connected clients with readiness "
        "already false (so load balancers stop sending new ones) before telling them; "
        "comes out of the grace period.",
    )
    log_level: str = Field(
        default="INFO", description="Python logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines of pushsvc, gunicorn and the app: 'text' (time pid level logger: "
        "message) or 'json' (one object per line: time, level, logger, message, pod; "
        "docs/operating.md).",
    )

    @field_validator("log_level", mode="after")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level
