"""Operations: the Socket.IO Admin UI and the internal health page."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from pushsvc.settings._section import Section


class AdminSettings(Section):
    """The Admin UI (login, mode, files) and who may read /internal/health."""

    title: ClassVar[str] = "Admin UI and internal health"

    admin_ui: bool = Field(
        default=False,
        description="Serve the Socket.IO Admin UI at /admin/ and accept it on the /admin "
        "Socket.IO namespace (python-socketio's instrument()). Off: /admin connections are "
        "refused. Needs PUSHSVC_ADMIN_UI_PASSWORD. It shows this pod's clients only.",
    )
    admin_ui_username: str = Field(
        default="admin", min_length=1, description="Admin UI login name."
    )
    admin_ui_password: SecretStr | None = Field(
        default=None,
        description="Admin UI password (required with PUSHSVC_ADMIN_UI). Never logged.",
    )
    admin_ui_read_only: bool = Field(
        default=True,
        description="Admin UI may only look: no emitting, joining, leaving or disconnecting "
        "clients from the UI.",
    )
    admin_ui_mode: Literal["development", "production"] = Field(
        default="development",
        description="Admin UI reporting: 'development' lists every socket, its rooms and "
        "every event (the UI's socket and room pages need it; it costs CPU on every emit); "
        "'production' sends only the server statistics.",
    )
    admin_ui_dir: str | None = Field(
        default=None,
        description="Folder of the Admin UI build (npm @socket.io/admin-ui ui/dist). "
        "Default: the installed package's copy, else node_modules/@socket.io/admin-ui/"
        "ui/dist of the source tree.",
    )
    admin_ui_icons_dir: str | None = Field(
        default=None,
        description="Folder of the icon font the Admin UI uses (npm @mdi/font, with css/ and "
        "fonts/). Default: the installed package's copy, else node_modules/@mdi/font of the "
        "source tree.",
    )
    internal_health_token: SecretStr | None = Field(
        default=None,
        description="Bearer token (16+ characters) for /internal/health from any address. "
        "Unset: only loopback peers without X-Forwarded-For (not through a proxy) get it. "
        "Never logged.",
    )

    @field_validator("internal_health_token", mode="after")
    @classmethod
    def _check_internal_health_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("PUSHSVC_INTERNAL_HEALTH_TOKEN must be at least 16 characters "
                             "(unset it to allow loopback only)")
        return value

    @model_validator(mode="after")
    def _check_admin_ui(self) -> Self:
        if self.admin_ui and not (
            self.admin_ui_password and self.admin_ui_password.get_secret_value()
        ):
            raise ValueError(
                "PUSHSVC_ADMIN_UI is on but PUSHSVC_ADMIN_UI_PASSWORD is not set: the Admin UI "
                "never runs without a login"
            )
        return self
