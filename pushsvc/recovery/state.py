"""What recovery holds for one server: every structure, in one place (each bounded: see
``bounds.py``), and the small types the layers share.

``Recovery`` (core.py) is this state with its layers on top, each on the one before:
publisher.py (snapshots to and from the bus, the start-up list) → tap.py (what it sees of
the bus) → replay.py → decide.py (the connect decision) → hooks.py (where it attaches to
python-socketio).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pushsvc import metrics
from pushsvc.bus.contract import Position, RecoveryBus
from pushsvc.identity import Identity, Permissions
from pushsvc.recovery.bounds import RefreshSchedule, SessionStore, SnapshotBudget
from pushsvc.recovery.history import History
from pushsvc.recovery.snapshot import _NONE, Snapshot
from pushsvc.settings import Settings
from pushsvc.sio.budget import TokenBucket

logger = logging.getLogger(__name__)

#: Who a connect is, as its connect handler sees it: (auth mode, token ``sub`` or None, what
#: the token allows).
_Who = tuple[str, str | None, Permissions]


@dataclass
class _Plan:
    snapshot: Snapshot
    pid: str
    start: Position  # replay what comes after this
    offset: Position | None  # the client's own, if it sent one


class State:
    """The state of connection state recovery for one server (see the module's docstring)."""

    def __init__(self, *, settings: Settings, server: Any, manager: RecoveryBus,
                 identity: Identity | None = None) -> None:
        assert settings.recovery_secret is not None
        self.settings = settings
        self.server = server
        #: python-socketio's manager: its sids and rooms, and the methods hooks.py wraps.
        self.manager: Any = manager
        #: The same object as the bus recovery may use (pushsvc.bus.contract): nothing else
        #: of the Kubernetes manager is read.
        self.bus: RecoveryBus = manager
        self.identity = identity if identity is not None else Identity(settings)
        self.window = settings.recovery_window_seconds
        self.interval = settings.recovery_snapshot_interval_seconds
        self._secret = settings.recovery_secret.get_secret_value().encode()
        # While the key is rotated, snapshots signed with the one it replaces still verify.
        self._previous_secret = (settings.recovery_secret_previous.get_secret_value().encode()
                                 if settings.recovery_secret_previous else None)
        self.history = History(
            max_messages=settings.recovery_history_max_messages,
            max_age_seconds=self.window + self.interval + 30.0,
            max_bytes=settings.recovery_history_max_bytes,
        )
        self.sessions = SessionStore()  # every pod's, by pid key; bytes estimated
        self.refreshes = RefreshSchedule(
            interval=self.interval, per_second=settings.recovery_snapshot_refreshes_per_second)
        self.budget = SnapshotBudget(
            pod_bytes=TokenBucket(rate=settings.recovery_snapshot_pod_bytes_per_second,
                                  burst=settings.recovery_snapshot_pod_burst_bytes),
            client_budget=lambda sid: None)
        self._refreshing: set[str] = set()  # dirty keys only a refresh made dirty (free)
        self.local: dict[str, Snapshot] = {}  # this pod's connected ones, by sid
        self.ready = False
        self.floor: Position = _NONE
        #: The highest bus position this pod has started delivering (None: none yet).
        self.position: Position | None = None
        self._dirty: dict[str, Snapshot] = {}
        self._pending: dict[str, _Plan] = {}
        self._recovering: dict[str, _Plan] = {}
        self._connect_pos: dict[str, Position | None] = {}
        self._auth: dict[str, dict[str, Any]] = {}
        # Between pre_connect and the CONNECT reply: the sid of each eio sid, and the rooms
        # the connect handler put that sid in (with the bus position of each join).
        self._connecting: dict[str, str] = {}
        self._joining: dict[str, dict[str, Position]] = {}
        self._who: dict[str, _Who] = {}  # eio sid -> who its connect is (reconnects)
        self._raw_auth: dict[str, Any] = {}  # eio sid -> its CONNECT's auth data
        # After a recovery, live packets the client already has are dropped: those replayed
        # with the CONNECT reply, and any at or before its own offset (this pod's watch may be
        # behind the pod that sent it). eio sid -> (drop nothing after, replayed, its offset).
        self._replayed: dict[str, tuple[Position, set[Position], Position]] = {}
        self._last_sent: dict[str, Position] = {}
        self._kicked: set[str] = set()
        self._ending: set[str] = set()
        self._taken: set[str] = set()
        self._ready_event: Any = None
        metrics.recovery_sessions.set_function(lambda: len(self.sessions))
        metrics.recovery_history.set_function(lambda: len(self.history.entries))
        metrics.recovery_sessions_bytes.set_function(lambda: self.sessions.bytes)
        metrics.recovery_history_bytes.set_function(lambda: self.history.bytes)
    def _eio_of(self, sid: str) -> str | None:
        try:
            eio: str | None = self.manager.eio_sid_from_sid(sid, "/")
            return eio
        except KeyError:
            return None

    def _stand(self) -> Position | None:
        """Where this pod's deliveries stand: for a client connecting now."""
        return self.position if self.position is not None else self.bus.start_position()
