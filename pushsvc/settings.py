"""All of pushsvc's configuration, in one pydantic-settings object.

Every field is read from an environment variable with the ``PUSHSVC_`` prefix
(``PUSHSVC_PORT=8000``). The object is built once at start-up and passed down;
nothing else in the code reads the environment. ``pushsvc serve --help``
prints this table from the field descriptions.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "PUSHSVC_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Read by the notifier library (emitter), not by the server: known, not misspelt.
NOTIFIER_ENV = frozenset({"PUSHSVC_EMITTER_BATCH_WINDOW_SECONDS", "PUSHSVC_JOB_NAME"})
# Kubernetes puts a Service's address in every pod of its namespace (enableServiceLinks): a
# Service named pushsvc gives PUSHSVC_SERVICE_HOST, PUSHSVC_PORT_5000_TCP_ADDR, ...
_SERVICE_LINK = re.compile(r"_SERVICE_(HOST|PORT(_[A-Z0-9_]+)?)$|_PORT_\d+_(TCP|UDP|SCTP)"
                           r"(_PROTO|_PORT|_ADDR)?$|_PORT$")


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
    log_level: str = Field(
        default="INFO", description="Python logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines of pushsvc, gunicorn and the app: 'text' (time pid level logger: "
        "message) or 'json' (one object per line: time, level, logger, message, pod; "
        "docs/operating.md).",
    )

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
    auth_token: SecretStr | None = Field(
        default=None,
        description="If set, clients must connect with auth {token: ...} equal to this "
        "(PUSHSVC_AUTH_MODE auto or token). Must not be empty. Never logged, hidden in repr.",
    )
    ping_interval_seconds: float = Field(default=25.0, gt=0, description="Engine.IO ping interval.")
    ping_timeout_seconds: float = Field(default=20.0, gt=0, description="Engine.IO ping timeout.")
    # Bounds of pushsvc's Engine.IO server (pushsvc/engineio/).
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

    # --- limits: clients ---------------------------------------------------
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
    pod_uid: str | None = Field(
        default=None, description="This pod's UID (downward API); the involvedObject's uid."
    )

    # --- ops ---
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

    # --- limits: engine ----------------------------------------------------
    # Engine.IO / Socket.IO packet-layer bounds (pushsvc/engineio/): they hold
    # before any handler runs.
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
        "client address; past it (and the burst) handshakes get HTTP 429.",
    )
    handshake_burst_per_address: int = Field(
        default=100,
        ge=1,
        description="Handshakes (count) one client address may make at once before the "
        "per-second rate applies (token bucket size).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or CIDRs of proxies (HAProxy) whose "
        "X-Forwarded-For is believed for per-address limits. Empty = the header is ignored "
        "and every client behind a proxy shares the proxy's address.",
    )

    # --- limits: refused connects ------------------------------------------
    # Refused Socket.IO CONNECTs (pushsvc/connect_guard.py): per connection, per address.
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
        "again) lasts twice as long, up to PUSHSVC_CONNECT_LOCKOUT_MAX_SECONDS.",
    )
    connect_lockout_max_seconds: float = Field(
        default=900.0,
        gt=0,
        description="Longest lockout (seconds); an address that stays quiet this long after a "
        "lockout starts again from PUSHSVC_CONNECT_LOCKOUT_SECONDS.",
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

    # --- retention janitor ---------------------------------------------------
    janitor: bool = Field(
        default=True,
        description="Run the retention janitor (kubernetes bus only): the pod holding the "
        "janitor Lease deletes bus Events older than PUSHSVC_RETENTION_SECONDS. Needs delete on "
        "events and the Lease grants of rbac/api.yaml.",
    )
    retention_seconds: float = Field(
        default=300.0,
        ge=1,
        description="Bus Events older than this are deleted by the janitor (long before the "
        "API server's 1 h event TTL). Never below the connection-recovery window.",
    )
    janitor_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between the janitor's passes; each lists every bus Event page by "
        "page (an etcd read of the whole set). Live Events stay near rate x (retention + "
        "interval): keep it at most a tenth of the retention.",
    )
    janitor_deletes_per_second: float = Field(
        default=200.0,
        gt=0,
        description="Most Event deletes per second the janitor sends (paced, no burst). Must "
        "exceed the rate bus Events are created, or the backlog grows.",
    )
    janitor_lease_name: str = Field(
        default="pushsvc-janitor",
        min_length=1,
        description="Name of the coordination.k8s.io Lease that elects the janitor, in the bus "
        "namespace. rbac/api.yaml grants get/update on this name only.",
    )
    janitor_lease_duration_seconds: int = Field(
        default=15,
        ge=1,
        description="Lease duration (client-go LeaseDuration): candidates take the Lease over "
        "when its holder has not renewed for this long.",
    )
    janitor_renew_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Renew deadline (client-go RenewDeadline): the holder stops deleting when "
        "it could not renew for this long. Below the lease duration.",
    )
    janitor_retry_period_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Retry period (client-go RetryPeriod): how often the holder renews and "
        "candidates try to acquire (with jitter).",
    )

    # --- Job lifecycle pushes (docs/jobs.md) ---------------------------------
    job_notify: bool = Field(
        default=False,
        description="Push the lifecycle of batch/v1 Jobs labelled pushsvc.io/notify=true to "
        "the user or room their annotations name (kubernetes bus only). The janitor's Lease "
        "holder watches them, so PUSHSVC_JANITOR must be on. Needs list/watch on jobs: "
        "manifests/job-notify.",
    )
    job_notify_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated namespaces whose Jobs are watched (each needs the "
        "manifests/job-notify Role). Empty = the bus namespace.",
    )
    job_notify_event: str = Field(
        default="pushsvc_job",
        min_length=1,
        max_length=100,
        description="Socket.IO event name of a Job transition pushed to browsers.",
    )
    job_notify_max_jobs: int = Field(
        default=10_000,
        ge=1,
        description="Jobs whose sent transitions the watching pod remembers; beyond it the "
        "oldest is forgotten (its next transition is checked against the bus by name, 409).",
    )

    # --- identity ----------------------------------------------------------
    auth_mode: Literal["auto", "none", "token", "jwt"] = Field(
        default="auto",
        description="Connect authentication: 'none'; 'token' (every client sends "
        "PUSHSVC_AUTH_TOKEN); 'jwt' (signed tokens, PUSHSVC_JWT_*: user rooms and room "
        "permissions from claims); 'auto' = token when PUSHSVC_AUTH_TOKEN is set, else none.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="JWT mode: HS256 shared secret (32+ characters) the application signs "
        "tokens with. Never logged. One of this, jwt_public_key_file or jwt_jwks_file.",
    )
    jwt_secret_previous: SecretStr | None = Field(
        default=None,
        description="JWT mode, while rotating jwt_secret: the secret tokens were signed with "
        "before it (32+ characters). Tokens signed with it still verify; it never signs. "
        "Remove it once no token signed with it can be unexpired. Never logged.",
    )
    jwt_public_key_file: str | None = Field(
        default=None,
        description="JWT mode: PEM file with the RSA or EC public key (RS256/ES256), e.g. "
        "mounted from a Secret; re-read when it changes.",
    )
    jwt_jwks_file: str | None = Field(
        default=None,
        description="JWT mode: JWKS file (keys picked by 'kid'), e.g. mounted from a "
        "ConfigMap; re-read when it changes. Never fetched over the network.",
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated accepted algorithms. Empty = by key: HS256 for a secret, "
        "RS256 or ES256 for a PEM key, the JWKS keys' own. 'none' is refused.",
    )
    jwt_audience: str | None = Field(
        default=None, description="JWT mode: required 'aud' (unset = not checked)."
    )
    jwt_issuer: str | None = Field(
        default=None, description="JWT mode: required 'iss' (unset = not checked)."
    )
    jwt_leeway_seconds: float = Field(
        default=30.0, ge=0, le=300,
        description="Clock skew allowed on exp, nbf and iat, in seconds.",
    )
    jwt_required: bool = Field(
        default=True,
        description="JWT mode: refuse connects without a token (connect_error token_missing). "
        "false = such clients connect anonymously (no user room, no room permissions); a "
        "bad token is always refused.",
    )
    jwt_require_exp: bool = Field(
        default=True,
        description="JWT mode: refuse tokens without 'exp' (a token that never expires "
        "cannot be revoked by not refreshing it).",
    )
    jwt_expiry_sweep_seconds: float = Field(
        default=1.0, gt=0, le=60,
        description="How often, in seconds, one background task disconnects connections "
        "whose token expired (reason token_expired).",
    )
    demo_tokens: bool = Field(
        default=False,
        description="Development only: GET /pushsvc-demo/token?sub=NAME mints a token "
        "(every room, broadcast, presence) from jwt_secret for the demo page. Needs demo_page and "
        "jwt_secret; refused in a Kubernetes pod. `pushsvc demo` turns it on.",
    )

    # --- recovery ---------------------------------------------------------
    recovery_enabled: bool = Field(
        default=False,
        description="Socket.IO connection state recovery (socket.io-client >= 4.6): a client "
        "that reconnects within the window, to any pod, gets every message it missed, in "
        "order, with its sid and rooms. Needs the Kubernetes bus. Off by default: every "
        "recoverable message then carries an offset as its last argument, which breaks "
        "python-socketio client handlers with a fixed number of arguments.",
    )
    recovery_secret: SecretStr | None = Field(
        default=None,
        description="Key (16+ characters, the same on every pod, e.g. from a Secret) that "
        "signs the session snapshots on the bus: anyone who may create Events could forge one "
        "otherwise. Required when recovery is on. Never logged.",
    )
    recovery_secret_previous: SecretStr | None = Field(
        default=None,
        description="While rotating recovery_secret: another key (16+ characters) snapshots "
        "may be signed with. Snapshots signed with it still verify; it never signs. Never "
        "logged.",
    )
    recovery_window_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long after a drop a session can be recovered; past it the client "
        "gets a new session (recovered=false). Keep window + snapshot interval below the bus "
        "Events' retention (the janitor's window; the Event TTL without it).",
    )
    recovery_snapshot_interval_seconds: float = Field(
        default=150.0,
        gt=0,
        description="Every connected session's snapshot is published again this often, so "
        "an idle session stays recoverable and a new pod learns it within the Events' "
        "retention; each session then has about retention / interval snapshots in etcd "
        "(about 350 bytes each). The refreshes are spread over the interval (a session's "
        "first anywhere in it), not sent at once. A pod killed without notice: its sessions "
        "stay recoverable for at most this plus the window after its last snapshot.",
    )
    recovery_snapshot_refreshes_per_second: float = Field(
        default=500.0,
        gt=0,
        description="Most periodic snapshot refreshes this pod publishes per second (they "
        "are spread over the interval; this bounds a backlog). Keep it above this pod's "
        "sessions / interval (20,000 / 150 s = 134), or refreshes come late and idle "
        "sessions may expire.",
    )
    recovery_snapshot_pod_bytes_per_second: int = Field(
        default=256 * 1024,
        ge=1,
        description="Bytes per second (JSON size) of the snapshots that clients cause (at "
        "connect, room changes, disconnect, recovery) this pod may publish; each is also "
        "charged to that client's publish byte budget. Over: the write waits, and a "
        "reconnect elsewhere before it is written gets a new session.",
    )
    recovery_snapshot_pod_burst_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=4096,
        description="Snapshot bytes clients may make this pod publish at once (bucket size; "
        "about 6,000 connects).",
    )
    recovery_flush_seconds: float = Field(
        default=0.05,
        gt=0,
        description="Snapshots written at connect and on room changes wait this long to "
        "share one bus message.",
    )
    recovery_max_sessions: int = Field(
        default=200000,
        ge=1,
        description="Session snapshots this pod keeps (its own and other pods'); past it "
        "the oldest are forgotten (those clients get a new session) and counted.",
    )
    recovery_sessions_max_bytes: int = Field(
        default=96 * 1024 * 1024,
        ge=1024 * 1024,
        description="Memory (estimated) for the session snapshots this pod keeps (its own and "
        "other pods', about 1.2 KB each with a room); past it the oldest are forgotten (those "
        "clients get a new session) and counted. 96 MiB: about 80,000 sessions, and with the "
        "history's 128 MiB and 20,000 connections at 31 KB it fits the Deployment's 1 GiB.",
    )
    recovery_max_snapshot_bytes: int = Field(
        default=4096,
        ge=256,
        description="Largest snapshot of one session (sid, rooms and positions; nothing from "
        "the client's auth); a bigger one is not written and that client cannot recover "
        "(counted).",
    )
    recovery_history_max_messages: int = Field(
        default=200000,
        ge=100,
        description="Bus messages this pod keeps in memory for recoveries (also bounded by "
        "age: window plus snapshot interval, and by bytes); past it the oldest go and "
        "recoveries from before them get a new session.",
    )
    recovery_history_max_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=1024 * 1024,
        description="Memory (estimated, parsed objects and replay frames) for the bus "
        "messages this pod keeps for recoveries; past it the oldest go (counted) and "
        "recoveries that needed them get a new session, never a partial one.",
    )
    recovery_history_max_pages: int = Field(
        default=200,
        ge=1,
        description="At start, list pages (about 4 MiB each) of bus Events read to learn "
        "the recent history and snapshots; past it this pod recovers only sessions from "
        "after its start.",
    )
    recovery_max_missed_messages: int = Field(
        default=10000,
        ge=1,
        description="Messages one recovery may replay; more: a new session instead.",
    )
    recovery_catch_up_seconds: float = Field(
        default=3.0,
        ge=0,
        description="A pod just started: a reconnect waits this long for its start-up list "
        "of the bus Events (the history and the snapshots), then gets a new session.",
    )

    # --- presence across pods (pushsvc.presence, docs/presence.md) --------------
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
        "second; more are refused with code rate_limited.",
    )
    presence_client_queries_burst: int = Field(
        default=5,
        ge=1,
        description="Presence questions one client may ask in a burst.",
    )

    def allowed_origins(self) -> list[str]:
        return list(self.cors_allowed_origins)

    @property
    def hard_message_limit_bytes(self) -> int:
        """Engine.IO's max_http_buffer_size: past it the connection is closed, not answered."""
        return 4 * self.max_message_bytes

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.auth_token is not None and not self.auth_token.get_secret_value():
            raise ValueError(
                "PUSHSVC_AUTH_TOKEN is set but empty, which would let a client in with an "
                "empty token: set a token, or unset the variable to allow every client"
            )
        for burst, name in (
            (self.publish_client_burst_bytes, "PUSHSVC_PUBLISH_CLIENT_BURST_BYTES"),
            (self.publish_pod_burst_bytes, "PUSHSVC_PUBLISH_POD_BURST_BYTES"),
        ):
            if burst < self.max_message_bytes:
                raise ValueError(
                    f"{name} ({burst}) is below PUSHSVC_MAX_MESSAGE_BYTES "
                    f"({self.max_message_bytes}): the largest messages could never be "
                    "published; raise it or lower the message limit"
                )
        if self.watch_read_timeout_seconds <= self.watch_timeout_seconds:
            raise ValueError(
                "PUSHSVC_WATCH_READ_TIMEOUT_SECONDS must exceed PUSHSVC_WATCH_TIMEOUT_SECONDS"
            )
        if self.admin_ui and not (
            self.admin_ui_password and self.admin_ui_password.get_secret_value()
        ):
            raise ValueError(
                "PUSHSVC_ADMIN_UI is on but PUSHSVC_ADMIN_UI_PASSWORD is not set: the Admin UI "
                "never runs without a login"
            )
        return self

    @property
    def effective_auth_mode(self) -> Literal["none", "token", "jwt"]:
        if self.auth_mode == "auto":
            return "token" if self.auth_token is not None else "none"
        return self.auth_mode

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
        return value

    @model_validator(mode="after")
    def _check_identity(self) -> Settings:
        mode = self.effective_auth_mode
        if mode == "token" and self.auth_token is None:
            raise ValueError("PUSHSVC_AUTH_MODE=token needs PUSHSVC_AUTH_TOKEN")
        if mode != "token" and self.auth_token is not None:
            raise ValueError(f"PUSHSVC_AUTH_TOKEN is set but PUSHSVC_AUTH_MODE={mode} would "
                             "ignore it: unset one of them")
        if any(a.lower() == "none" for a in self.jwt_algorithms):
            raise ValueError("'none' in PUSHSVC_JWT_ALGORITHMS would accept unsigned tokens")
        sources = [self.jwt_secret, self.jwt_public_key_file, self.jwt_jwks_file]
        if mode == "jwt" and sum(s is not None for s in sources) != 1:
            raise ValueError("PUSHSVC_AUTH_MODE=jwt needs exactly one of PUSHSVC_JWT_SECRET, "
                             "PUSHSVC_JWT_PUBLIC_KEY_FILE, PUSHSVC_JWT_JWKS_FILE")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("PUSHSVC_JWT_SECRET must be at least 32 characters (HS256 "
                             "needs a 256-bit key)")
        if self.jwt_secret_previous is not None:
            previous = self.jwt_secret_previous.get_secret_value()
            if self.jwt_secret is None:
                raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS needs PUSHSVC_JWT_SECRET (the "
                                 "secret that signs now; a JWKS rotates by 'kid' instead)")
            if len(previous) < 32:
                raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS must be at least 32 characters")
            if previous == self.jwt_secret.get_secret_value():
                raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS is the same as "
                                 "PUSHSVC_JWT_SECRET: unset it, or set the old secret")
        if self.demo_tokens:
            if not (self.demo_page and mode == "jwt" and self.jwt_secret is not None):
                raise ValueError("PUSHSVC_DEMO_TOKENS needs PUSHSVC_DEMO_PAGE, "
                                 "PUSHSVC_AUTH_MODE=jwt and PUSHSVC_JWT_SECRET")
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                raise ValueError("PUSHSVC_DEMO_TOKENS lets anyone mint tokens: it is refused "
                                 "in a Kubernetes pod")
        return self

    @field_validator("log_level", mode="after")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

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

    @model_validator(mode="after")
    def _check_engine_limits(self) -> Settings:
        if self.max_queued_bytes_per_client < self.hard_message_limit_bytes:
            raise ValueError(
                "PUSHSVC_MAX_QUEUED_BYTES_PER_CLIENT must be at least 4 x "
                f"PUSHSVC_MAX_MESSAGE_BYTES ({self.hard_message_limit_bytes}), or one large "
                "message would disconnect its reader"
            )
        return self

    @model_validator(mode="after")
    def _check_connect_lockouts(self) -> Settings:
        if self.connect_lockout_max_seconds < self.connect_lockout_seconds:
            raise ValueError("PUSHSVC_CONNECT_LOCKOUT_MAX_SECONDS must be at least "
                             "PUSHSVC_CONNECT_LOCKOUT_SECONDS")
        return self

    @field_validator("presence_notice_rooms", mode="before")
    @classmethod
    def _split_notice_rooms(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("job_notify_namespaces", mode="before")
    @classmethod
    def _split_job_namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

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

    @model_validator(mode="after")
    def _check_janitor(self) -> Settings:
        # Recovery replays missed messages from the Events, and a session's snapshot is
        # published again every snapshot interval: both must outlive the window.
        needed = self.recovery_window_seconds + self.recovery_snapshot_interval_seconds
        if self.recovery_enabled and self.retention_seconds < needed:
            raise ValueError(
                f"PUSHSVC_RETENTION_SECONDS ({self.retention_seconds:g}) must be at least "
                f"PUSHSVC_RECOVERY_WINDOW_SECONDS + PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS "
                f"({needed:g}): recovery reads missed messages and session snapshots from bus "
                "Events the janitor would already have deleted")
        if self.job_notify and not self.janitor:
            raise ValueError("PUSHSVC_JOB_NOTIFY needs PUSHSVC_JANITOR: the Job notifier runs "
                             "on the janitor's Lease holder and relies on its retention window "
                             "(docs/jobs.md)")
        if not self.janitor_lease_duration_seconds > self.janitor_renew_deadline_seconds:
            raise ValueError("PUSHSVC_JANITOR_LEASE_DURATION_SECONDS must exceed "
                             "PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS (client-go's rule)")
        if not self.janitor_renew_deadline_seconds > 1.2 * self.janitor_retry_period_seconds:
            raise ValueError("PUSHSVC_JANITOR_RENEW_DEADLINE_SECONDS must exceed 1.2 x "
                             "PUSHSVC_JANITOR_RETRY_PERIOD_SECONDS (client-go's rule)")
        return self

    @model_validator(mode="after")
    def _check_recovery(self) -> Settings:
        if self.recovery_enabled and (
            self.recovery_secret is None or len(self.recovery_secret.get_secret_value()) < 16
        ):
            raise ValueError(
                "PUSHSVC_RECOVERY_ENABLED is on but PUSHSVC_RECOVERY_SECRET is not set (16+ "
                "characters, the same on every pod): session snapshots must be signed"
            )
        if self.recovery_secret_previous is not None:
            previous = self.recovery_secret_previous.get_secret_value()
            if self.recovery_secret is None:
                raise ValueError("PUSHSVC_RECOVERY_SECRET_PREVIOUS needs "
                                 "PUSHSVC_RECOVERY_SECRET (the key that signs)")
            if len(previous) < 16:
                raise ValueError("PUSHSVC_RECOVERY_SECRET_PREVIOUS must be at least 16 "
                                 "characters")
            if previous == self.recovery_secret.get_secret_value():
                raise ValueError("PUSHSVC_RECOVERY_SECRET_PREVIOUS is the same as "
                                 "PUSHSVC_RECOVERY_SECRET: unset it, or set the other key")
        return self


@dataclass(frozen=True)
class SettingDoc:
    """One row of the configuration table (``pushsvc serve --help``, docs/configuration.md)."""

    env: str
    kind: str
    default: str
    description: str


def _kind(name: str, annotation: Any) -> str:
    if name.endswith("_seconds"):
        return "seconds"
    if name.endswith("_bytes"):
        return "bytes"
    text = str(annotation).replace("typing.", "").replace("pydantic.types.", "")
    if text.endswith(" | None"):
        names = {"str": "string", "int": "integer", "SecretStr": "secret string"}
        return names.get(text[: -len(" | None")], text)
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


#: Settings that only narrowed the classic protocol's semantics; now ignored, with one line
#: (``init_app`` says so; ``unknown_env_warnings`` leaves them to it).
RETIRED_SETTINGS = {
    "PUSHSVC_ALLOW_CLIENT_CLOSE_ROOM": "any client may close any room (close_room)",
    "PUSHSVC_ROOM_EVENT_MEMBERS_ONLY": "any client may send to any room (my_room_event)",
}


def unknown_env_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per ``PUSHSVC_*`` variable that no setting reads, with the closest known name.

    pydantic-settings ignores unknown variables, so a misspelt ``PUSHSVC_PORTT`` would
    silently leave the default in place. Kubernetes' Service links (``PUSHSVC_SERVICE_HOST``,
    ``PUSHSVC_PORT_5000_TCP``, ...) of a Service named pushsvc are not warned about.
    """
    env = os.environ if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | NOTIFIER_ENV
    lines = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known or name in RETIRED_SETTINGS:
            continue
        if _SERVICE_LINK.search(name) and name.count("_") >= 2:
            continue
        # Compared without the prefix every name shares, or anything would look close.
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX),
                                          sorted(k.removeprefix(ENV_PREFIX) for k in known),
                                          n=1, cutoff=0.6)
        hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
        lines.append(f"{name} is not a pushsvc setting and is ignored{hint}")
    return lines
