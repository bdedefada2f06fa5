"""Socket.IO clients: who may connect, what they send and get, the demo page and the JS client."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from pushsvc.settings._section import Section, split_commas


class ClientSettings(Section):
    """What a Socket.IO client sees: origins, message size, the reply event, heartbeats."""

    title: ClassVar[str] = "Socket.IO clients"

    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to connect besides the server's own "
        "(e.g. http://intranet.example:8080). Empty = same origin only. '*' is refused.",
    )
    max_message_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest Socket.IO message a client may send, in bytes (its JSON size). "
        "Larger ones get an 'error' event (code too_large) and the connection stays open; "
        "past 4x this size Engine.IO closes the connection (max_http_buffer_size).",
    )
    reply_event: str = Field(
        default="nuke_response", min_length=1, description="Event name used for replies and pushes."
    )
    allow_client_broadcast: bool = Field(
        default=True, description="Let clients send my_broadcast_event (to everyone)."
    )
    ping_interval_seconds: float = Field(default=25.0, gt=0, description="Engine.IO ping interval.")
    ping_timeout_seconds: float = Field(default=20.0, gt=0, description="Engine.IO ping timeout.")
    demo_page: bool = Field(
        default=True,
        description="Serve the demo page at / where the classic protocol is on (pushsvc "
        "serve, create_app(), init_app(app, classic=True)); never in init_app(app).",
    )
    js_client_dir: str | None = Field(
        default=None,
        description="Folder holding socket.io.min.js (npm socket.io-client dist/). "
        "Default: the installed package's copy (a wheel carries it), else "
        "node_modules/socket.io-client/dist of the source tree.",
    )

    def allowed_origins(self) -> list[str]:
        return list(self.cors_allowed_origins)

    @property
    def hard_message_limit_bytes(self) -> int:
        """Engine.IO's max_http_buffer_size: past it the connection is closed, not answered."""
        return 4 * self.max_message_bytes

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("cors_allowed_origins", mode="after")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        cleaned = []
        for origin in value:
            if origin == "*" or "*" in origin:
                raise ValueError("'*' is refused in PUSHSVC_CORS_ALLOWED_ORIGINS; list the origins")
            if "://" not in origin:
                raise ValueError(
                    f"origin {origin!r} in PUSHSVC_CORS_ALLOWED_ORIGINS needs a scheme, "
                    "e.g. http://host:8080"
                )
            cleaned.append(origin.rstrip("/"))
        return cleaned
