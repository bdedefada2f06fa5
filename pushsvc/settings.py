"""All of pushsvc's configuration, in one pydantic-settings object.

Every field is read from an environment variable with the ``PUSHSVC_`` prefix
(``PUSHSVC_PORT=8000``). The object is built once at start-up and passed down;
nothing else in the code reads the environment. ``pushsvc serve --help``
prints this table from the field descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "PUSHSVC_"


class Settings(BaseSettings):
    """pushsvc settings. Units are in the field names or descriptions."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # --- serving ---------------------------------------------------------
    host: str = Field(
        default="127.0.0.1", description="Address to bind (use 0.0.0.0 in a container)."
    )
    port: int = Field(default=5000, ge=0, le=65535, description="TCP port to bind.")
    worker_connections: int = Field(
        default=20000,
        ge=10,
        description="gunicorn --worker-connections: cap on ALL open connections "
        "(WebSockets, long-polls, health checks) of the one gevent worker. "
        "Keep it below ulimit -n.",
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
    log_level: str = Field(default="INFO", description="Python logging level.")

    # --- Socket.IO -------------------------------------------------------
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
    allow_client_close_room: bool = Field(default=True, description="Let clients send close_room.")
    auth_token: str | None = Field(
        default=None,
        description="If set, clients must connect with auth {token: ...} equal to this. "
        "Never logged.",
    )
    ping_interval_seconds: float = Field(default=25.0, gt=0, description="Engine.IO ping interval.")
    ping_timeout_seconds: float = Field(default=20.0, gt=0, description="Engine.IO ping timeout.")
    demo_page: bool = Field(
        default=True,
        description="Serve the demo page at / (turn off when adding push to your own app).",
    )
    js_client_dir: str | None = Field(
        default=None,
        description="Folder holding socket.io.min.js (npm socket.io-client dist/). "
        "Default: node_modules/socket.io-client/dist next to the source tree.",
    )

    # --- the bus ---------------------------------------------------------
    bus: Literal["auto", "memory", "kubernetes"] = Field(
        default="auto",
        description="Cross-pod bus: 'memory' (one process), 'kubernetes' (core/v1 Events), "
        "'auto' = kubernetes in a pod (in-cluster config) or when PUSHSVC_KUBECONFIG is set; "
        "a personal ~/.kube/config does not switch it.",
    )
    bus_namespace: str | None = Field(
        default=None,
        description="Namespace of the bus Events. Default: the pod's namespace "
        "(in-cluster) or the kubeconfig context's namespace, else 'default'.",
    )
    bus_channel: str = Field(
        default="pushsvc", description="Channel name; the label value that marks this bus's Events."
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Path to a kubeconfig (default: $KUBECONFIG, then ~/.kube/config).",
    )
    watch_timeout_seconds: int = Field(
        default=300, ge=1, description="Server-side timeoutSeconds of each watch request."
    )
    watch_read_timeout_seconds: float = Field(
        default=330.0,
        gt=0,
        description="Client read timeout on the watch connection; must exceed "
        "watch_timeout_seconds, or a half-open connection hangs.",
    )
    watch_down_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="After the watch has been down this long the bus is degraded: messages "
        "for other pods are dropped at once (counted) instead of waiting for the API server. "
        "Readiness does not change: the pod keeps serving its own clients.",
    )
    watch_backoff_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between watch reconnects (backoff starts at "
        "0.8 s, doubles with jitter).",
    )
    watch_backoff_reset_seconds: float = Field(
        default=60.0, gt=0, description="A watch healthy this long resets the reconnect backoff."
    )
    pod_name: str | None = Field(
        default=None,
        description="This pod's name (downward API); names the involvedObject of Events.",
    )
    pod_namespace: str | None = Field(
        default=None, description="This pod's namespace (downward API)."
    )

    # --- limits: bus -----------------------------------------------------
    bus_outbox_max_messages: int = Field(
        default=1000,
        ge=1,
        description="Messages queued for other pods (not yet in an Event), at most; past it "
        "the oldest is dropped and counted (pushsvc_bus_outbox_dropped_total{reason=overflow}).",
    )
    bus_outbox_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=256 * 1024,
        description="JSON bytes queued for other pods, at most (default 8 MiB); past it the "
        "oldest message is dropped and counted.",
    )
    bus_publish_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long one Event create is retried (429, 5xx, connection errors) "
        "while the bus is not degraded; then its messages are counted as failed.",
    )
    internal_health_token: SecretStr | None = Field(
        default=None,
        description="Bearer token (16+ characters) for /internal/health from any address. "
        "Unset: only loopback peers without X-Forwarded-For (not through a proxy) get it. "
        "Never logged.",
    )

    def allowed_origins(self) -> list[str]:
        return list(self.cors_allowed_origins)

    @property
    def hard_message_limit_bytes(self) -> int:
        """Engine.IO's max_http_buffer_size: past it the connection is closed, not answered."""
        return 4 * self.max_message_bytes

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.watch_read_timeout_seconds <= self.watch_timeout_seconds:
            raise ValueError(
                "PUSHSVC_WATCH_READ_TIMEOUT_SECONDS must exceed PUSHSVC_WATCH_TIMEOUT_SECONDS"
            )
        return self

    @field_validator("internal_health_token", mode="after")
    @classmethod
    def _check_internal_health_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("PUSHSVC_INTERNAL_HEALTH_TOKEN must be at least 16 characters "
                             "(unset it to allow loopback only)")
        return value

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

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


@dataclass(frozen=True)
class SettingDoc:
    """One row of the configuration table (``pushsvc serve --help``, the README)."""

    env: str
    kind: str
    default: str
    description: str


def _kind(name: str, annotation: Any) -> str:
    if name.endswith("_seconds"):
        return "seconds"
    if name.endswith("_bytes"):
        return "bytes"
    text = str(annotation).replace("typing.", "")
    if text.endswith(" | None"):
        return {"str": "string", "int": "integer", "pydantic.types.SecretStr": "secret string"
                }.get(text[: -len(" | None")], text)
    if "Literal" in text:
        return "one of " + text[text.index("[") + 1 : text.rindex("]")].replace("'", "")
    if "list" in text:
        return "comma-separated list"
    return {
        "<class 'int'>": "integer",
        "<class 'str'>": "string",
        "<class 'bool'>": "true/false",
        "<class 'float'>": "number",
    }.get(text, text.replace("<class '", "").replace("'>", ""))


def settings_docs() -> list[SettingDoc]:
    """Every setting with its environment variable, unit/type, default and description."""
    rows = []
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default: object = field.default_factory()  # type: ignore[call-arg]
        else:
            default = field.default
        if isinstance(default, list):
            shown = ",".join(default) or "(empty)"
        elif default is None:
            shown = "(unset)"
        else:
            shown = str(default).lower() if isinstance(default, bool) else str(default)
        rows.append(
            SettingDoc(
                env=ENV_PREFIX + name.upper(),
                kind=_kind(name, field.annotation),
                default=shown,
                description=field.description or "",
            )
        )
    return rows
