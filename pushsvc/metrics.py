"""Prometheus metrics of one pushsvc process, served at /metrics.

One registry for the whole process (not prometheus_client's global one, so tests
and embedding apps do not collide). Modules add their own metrics here; this
module imports only prometheus_client, never gevent or Flask.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

connected_clients = Gauge(
    "pushsvc_connected_clients",
    "Socket.IO clients connected to this process.",
    registry=REGISTRY,
)

rejected_messages = Counter(
    "pushsvc_rejected_messages",
    "Client messages refused with an error event, by error code.",
    ["code"],
    registry=REGISTRY,
)

refused_connections = Counter(
    "pushsvc_refused_connections",
    "Socket.IO connections refused, by reason (auth, admin_auth, shutting_down, error: the "
    "check itself failed; JWT mode: token_missing, token_expired, token_invalid, "
    "token_audience, token_issuer, token_not_yet_valid; too_many_attempts: refused unchecked "
    "by the refused-connect budget).",
    ["reason"],
    registry=REGISTRY,
)


# --- limits: clients ------------------------------------------------------------------
sessions = Gauge(
    "pushsvc_socketio_sessions",
    "Socket.IO sessions the client manager holds on this process (connected or still "
    "connecting); above pushsvc_connected_clients only for a moment, unless sessions leak.",
    registry=REGISTRY,
)

client_disconnects = Counter(
    "pushsvc_client_disconnects",
    "Clients the server disconnected for breaking a limit, by reason (rate_limited).",
    ["reason"],
    registry=REGISTRY,
)

publish_refused = Counter(
    "pushsvc_publish_refused",
    "Client messages to other clients (broadcast, room event, close_room) refused by the "
    "publishing budget, by scope (client, pod) and unit (messages, bytes).",
    ["scope", "unit"],
    registry=REGISTRY,
)


# --- engine limits (pushsvc/engineio/) -----------------------------------------
engine_refused_handshakes = Counter(
    "pushsvc_engine_refused_handshakes",
    "Engine.IO handshakes refused before a session was made, by reason "
    "(handshake_rate, sessions_per_address, sessions_total).",
    ["reason"],
    registry=REGISTRY,
)

engine_closed_connections = Counter(
    "pushsvc_engine_closed_connections",
    "Engine.IO connections the server closed for breaking a packet-layer limit, by reason "
    "(slow_reader, too_many_attachments, too_large, bad_frame, bad_packet, too_many_frames, "
    "control_frames, connect_timeout, transport_error, too_many_attempts: refused CONNECTs "
    "past PUSHSVC_CONNECT_REFUSALS_PER_CONNECTION).",
    ["reason"],
    registry=REGISTRY,
)

engine_refused_packets = Counter(
    "pushsvc_engine_refused_packets",
    "Socket.IO packets dropped before any handler ran, connection kept, by reason "
    "(too_deep).",
    ["reason"],
    registry=REGISTRY,
)

engine_sessions = Gauge(
    "pushsvc_engine_sessions",
    "Engine.IO sessions held by this process (connected clients and bare handshakes).",
    registry=REGISTRY,
)


# --- WebSocket direct writes (pushsvc/engineio/websocket.py) ------------------------
ws_writer_greenlets = Gauge(
    "pushsvc_ws_writer_greenlets",
    "Writer greenlets alive: one per WebSocket whose last write would have blocked (the "
    "client reads slower than it is sent to), none for the others.",
    registry=REGISTRY,
)

ws_backpressured = Counter(
    "pushsvc_ws_backpressured",
    "Times a WebSocket's write would have blocked, so its frames waited for a writer "
    "greenlet (each time counted once, until the socket drained).",
    registry=REGISTRY,
)

fanout_yields = Counter(
    "pushsvc_fanout_yields",
    "Times a fan-out (one emit to many clients, a bus message to everyone) had held the "
    "gevent loop past its slice and yielded to it mid-way, so the heartbeat, /healthz and "
    "the other clients are served while it goes on (pushsvc's engine).",
    registry=REGISTRY,
)

# --- identity (pushsvc/identity/) ----------------------------------------
token_refreshes = Counter(
    "pushsvc_token_refreshes",
    "pushsvc_refresh requests (a client replacing its connection's JWT), by result (ok, or "
    "the refusal code: token_expired, token_invalid, token_subject, ...).",
    ["result"],
    registry=REGISTRY,
)

previous_secret_verified = Counter(
    "pushsvc_previous_secret_verified",
    "Tokens (secret=jwt) and session snapshots (secret=recovery) that verified only with "
    "the *_SECRET_PREVIOUS value: while it is above zero, a rotation is not over.",
    ["secret"],
    registry=REGISTRY,
)
# --- refused connects (pushsvc/sio/connect_guard.py) --------------------------
connect_lockouts = Counter(
    "pushsvc_connect_lockouts",
    "Client addresses locked out after spending their refused-CONNECT budget, by kind "
    "(client: any namespace but /admin; admin: Admin UI logins).",
    ["kind"],
    registry=REGISTRY,
)
connect_guard_addresses = Gauge(
    "pushsvc_connect_guard_addresses",
    "Client addresses whose refused CONNECTs are being tracked (both kinds), bounded.",
    registry=REGISTRY,
)

# --- recovery (connection state recovery, pushsvc.recovery) ---
recoveries = Counter(
    "pushsvc_recoveries",
    "Reconnects that asked for connection state recovery, by result: recovered, or why a "
    "new session was given (unknown, expired, ended, behind, history_gone, too_many, "
    "out_of_order, refused, identity: another auth mode or token subject than the "
    "session's, forbidden_room: a restored room the token no longer allows).",
    ["result"],
    registry=REGISTRY,
)
recovery_replayed = Counter(
    "pushsvc_recovery_replayed_messages",
    "Missed messages replayed to recovered clients.",
    registry=REGISTRY,
)
recovery_sessions = Gauge(
    "pushsvc_recovery_sessions",
    "Session snapshots this pod knows (its own and other pods'), bounded by "
    "PUSHSVC_RECOVERY_MAX_SESSIONS and PUSHSVC_RECOVERY_SESSIONS_MAX_BYTES.",
    registry=REGISTRY,
)
recovery_history = Gauge(
    "pushsvc_recovery_history_messages",
    "Bus messages kept in memory for recoveries, bounded by "
    "PUSHSVC_RECOVERY_HISTORY_MAX_MESSAGES and PUSHSVC_RECOVERY_HISTORY_MAX_BYTES.",
    registry=REGISTRY,
)
recovery_sessions_bytes = Gauge(
    "pushsvc_recovery_sessions_bytes",
    "Estimated memory of the session snapshots this pod keeps, bounded by "
    "PUSHSVC_RECOVERY_SESSIONS_MAX_BYTES.",
    registry=REGISTRY,
)
recovery_history_bytes = Gauge(
    "pushsvc_recovery_history_bytes",
    "Estimated memory of the bus messages kept for recoveries, bounded by "
    "PUSHSVC_RECOVERY_HISTORY_MAX_BYTES.",
    registry=REGISTRY,
)
recovery_snapshots_deferred = Counter(
    "pushsvc_recovery_snapshots_deferred",
    "Snapshot writes a client caused that waited for a budget, by scope (client: its publish "
    "byte budget; pod: PUSHSVC_RECOVERY_SNAPSHOT_POD_BYTES_PER_SECOND), counted each time.",
    ["scope"],
    registry=REGISTRY,
)
recovery_snapshots_published = Counter(
    "pushsvc_recovery_snapshots_published",
    "Session snapshots this pod published to the bus (at connect, on room changes, "
    "periodically, at disconnect).",
    registry=REGISTRY,
)
recovery_dropped = Counter(
    "pushsvc_recovery_dropped",
    "Recovery state given up, by reason (sessions_full, sessions_bytes, snapshot_too_large, "
    "history_full, history_bytes, preload_pages, bad_signature).",
    ["reason"],
    registry=REGISTRY,
)

def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
