"""Connection state recovery: signed session snapshots and a history of bus messages
(pushsvc/recovery.py, docs/recovery.md)."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator

from pushsvc.settings._section import Section

#: Snapshots written at connect and on room changes wait this long to share one bus message.
FLUSH_SECONDS = 0.05
#: At start, list pages (about 4 MiB each) of bus Events read to learn the recent history
#: and snapshots; past it the pod recovers only sessions from after its start.
HISTORY_MAX_PAGES = 200
#: A pod just started: a reconnect waits this long for its start-up list, then gets a new
#: session.
CATCH_UP_SECONDS = 3.0


class RecoverySettings(Section):
    """Recovery's window, snapshot key and refreshes, and the bounds of what a pod keeps."""

    title: ClassVar[str] = "Connection state recovery"

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
        "stay recoverable for at most this plus the window after its last snapshot. At "
        "most 4 x PUSHSVC_MAX_SESSIONS_TOTAL / this refreshes go out per second (a backlog's "
        "bound).",
    )
    recovery_snapshot_pod_bytes_per_second: int = Field(
        default=256 * 1024,
        ge=1,
        description="Bytes per second (JSON size) of the snapshots that clients cause (at "
        "connect, room changes, disconnect, recovery) this pod may publish; each is also "
        "charged to that client's publish byte budget. Over: the write waits, and a "
        "reconnect elsewhere before it is written gets a new session. 8 s of it may go "
        "at once (the bucket; at least PUSHSVC_RECOVERY_MAX_SNAPSHOT_BYTES).",
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
    recovery_max_missed_messages: int = Field(
        default=10000,
        ge=1,
        description="Messages one recovery may replay; more: a new session instead.",
    )

    @model_validator(mode="after")
    def _check_recovery(self) -> Self:
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

    @property
    def recovery_snapshot_pod_burst_bytes(self) -> int:
        """Snapshot bytes clients may make this pod publish at once: 8 s of the byte rate
        (2 MiB by default, about 6,000 connects), at least the largest snapshot."""
        return max(8 * self.recovery_snapshot_pod_bytes_per_second,
                   self.recovery_max_snapshot_bytes)

    @property
    def recovery_flush_seconds(self) -> float:
        """How long connect and room-change snapshots wait to share a bus message."""
        return FLUSH_SECONDS

    @property
    def recovery_history_max_pages(self) -> int:
        """List pages read at start for the history and snapshots (:data:`HISTORY_MAX_PAGES`)."""
        return HISTORY_MAX_PAGES

    @property
    def recovery_catch_up_seconds(self) -> float:
        """How long a reconnect waits for a new pod's start-up list (:data:`CATCH_UP_SECONDS`)."""
        return CATCH_UP_SECONDS
