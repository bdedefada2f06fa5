"""All of pushsvc's configuration, in one pydantic-settings object.

Every field is read from an environment variable with the ``PUSHSVC_`` prefix
(``PUSHSVC_PORT=8000``). The object is built once at start-up and passed down;
nothing else in the code reads the environment. ``pushsvc serve --help``
prints this table from the field descriptions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

ENV_PREFIX = "PUSHSVC_"


class Settings(BaseSettings):
    """pushsvc settings. Units are in the field names or descriptions."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # --- serving ---------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to bind (use 0.0.0.0 in a container).")
    port: int = Field(5000, ge=0, le=65535, description="TCP port to bind.")
    worker_connections: int = Field(
        20000,
        ge=10,
        description="gunicorn --worker-connections: cap on ALL open connections "
        "(WebSockets, long-polls, health checks) of the one gevent worker. Keep it below ulimit -n.",
    )
    shutdown_grace_seconds: float = Field(
        20.0, gt=0, description="On SIGTERM: seconds to tell clients and drain before exiting."
    )
    log_level: str = Field("INFO", description="Python logging level.")

    # --- Socket.IO -------------------------------------------------------
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to connect besides the server's own "
        "(e.g. http://intranet.example:8080). Empty = same origin only. '*' is refused.",
    )
    max_message_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest Socket.IO message a client may send, in bytes."
    )
    reply_event: str = Field(
        "nuke_response", min_length=1, description="Event name used for replies and pushes."
    )
    allow_client_broadcast: bool = Field(
        True, description="Let clients send my_broadcast_event (to everyone)."
    )
    allow_client_close_room: bool = Field(True, description="Let clients send close_room.")
    auth_token: str | None = Field(
        None,
        description="If set, clients must connect with auth {token: ...} equal to this. Never logged.",
    )
    ping_interval_seconds: float = Field(25.0, gt=0, description="Engine.IO ping interval.")
    ping_timeout_seconds: float = Field(20.0, gt=0, description="Engine.IO ping timeout.")
    js_client_dir: str | None = Field(
        None,
        description="Folder holding socket.io.min.js (npm socket.io-client dist/). "
        "Default: node_modules/socket.io-client/dist next to the source tree.",
    )

    # --- the bus ---------------------------------------------------------
    bus: Literal["auto", "memory", "kubernetes"] = Field(
        "auto",
        description="Cross-pod bus: 'memory' (one process), 'kubernetes' (core/v1 Events), "
        "'auto' = kubernetes when in-cluster config or a kubeconfig is found.",
    )
    bus_namespace: str | None = Field(
        None,
        description="Namespace of the bus Events. Default: the pod's namespace "
        "(in-cluster) or the kubeconfig context's namespace, else 'default'.",
    )
    bus_channel: str = Field(
        "pushsvc", description="Channel name; the label value that marks this bus's Events."
    )
    kubeconfig: str | None = Field(
        None, description="Path to a kubeconfig (default: $KUBECONFIG, then ~/.kube/config)."
    )
    watch_timeout_seconds: int = Field(
        300, ge=1, description="Server-side timeoutSeconds of each watch request."
    )
    watch_read_timeout_seconds: float = Field(
        330.0,
        gt=0,
        description="Client read timeout on the watch connection; must exceed "
        "watch_timeout_seconds, or a half-open connection hangs.",
    )
    watch_down_grace_seconds: float = Field(
        10.0, ge=0, description="Readiness turns false when the watch has been down this long."
    )
    pod_name: str | None = Field(
        None, description="This pod's name (downward API); names the involvedObject of Events."
    )
    pod_namespace: str | None = Field(None, description="This pod's namespace (downward API).")

    def allowed_origins(self) -> list[str]:
        return list(self.cors_allowed_origins)

    def model_post_init(self, __context: object) -> None:
        if "*" in self.cors_allowed_origins:
            raise ValueError("PUSHSVC_CORS_ALLOWED_ORIGINS='*' is refused; list the origins")
        if self.watch_read_timeout_seconds <= self.watch_timeout_seconds:
            raise ValueError(
                "PUSHSVC_WATCH_READ_TIMEOUT_SECONDS must exceed PUSHSVC_WATCH_TIMEOUT_SECONDS"
            )

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value
