"""Socket.IO connection state recovery (socket.io-client >= 4.6) on ANY pod, from the bus.

The protocol, as Node's socket.io 4.6+ speaks it: the CONNECT reply carries a private session
id (``40{"sid":S,"pid":P}``); every recoverable EVENT (no ack, not volatile, direct emits
included) carries a string offset as its LAST argument; a reconnecting client sends
``40{"pid":P,"offset":O,...auth}``. Success: the missed EVENTs in order, then CONNECT with the
same sid and pid (the client sets ``recovered``). Anything else: a fresh sid and pid.

How pushsvc does it, and why:

- Offsets are positions in the bus's one global order: an Event's resourceVersion and the
  message's index in it (``"<rv>-<i>"``). With recovery on, every recoverable emit — a direct
  emit to a sid of this very pod too — becomes an Event and reaches its clients only when it
  comes back through the watch (``KubernetesManager.emit``, ``_listen``). So a client sees
  the bus's order, an offset means the same on every pod, and a message is durable in the API
  server before any client can have seen it: a SIGKILLed pod cannot take with it a message
  that a recovery elsewhere would then be missing (the only way a recovery could be partial).
  The price: direct replies cost an API round trip and etcd writes (shared Events, batched
  by the outbox), only while recovery is on; ``error`` and ``server_shutdown`` stay volatile.
- What recovery sees of the bus is typed (pushsvc.bus.contract): the manager shows the tap
  each bus message as a ``Delivery`` (position, message, own, recoverable) before applying
  it, and runs a recoverable one's emit with ``DELIVERING`` set to it, so a send knows the
  position it carries; recovery asks the bus for nothing else than ``RecoveryBus`` offers.
- History: every pod watches every bus Event already. Each keeps the recent recoverable
  messages in memory (bounded by count, bytes and age: pushsvc.recovery.bounds), filled at
  start by one paged list of the bus Events, then by its watch; a recovery replays from
  there, in order, each once, and live delivery takes over with no gap (the replay runs in
  one step with no greenlet switch and live packets to the recovering sid are held back
  until the CONNECT reply).
- Snapshots (sid, a SHA-256 of the pid, rooms with the positions they were joined/left at,
  the bus positions; nothing of the client's auth) travel on the bus too, as emits to a
  namespace no client can join (pods without recovery apply them as no-ops), signed with
  ``PUSHSVC_RECOVERY_SECRET`` because anyone with ``create`` on events could forge one (while
  it is rotated, ``PUSHSVC_RECOVERY_SECRET_PREVIOUS`` verifies too, never signs). They
  are written at connect, on room changes and at disconnect (batched, charged to the client's
  and the pod's budgets), and again every ``recovery_snapshot_interval_seconds`` (spread over
  it) — so a session idle for hours stays recoverable and a
  new pod learns it from Events younger than the retention window. A pod killed without
  notice wrote nothing at disconnect: its last snapshot says "up" and expires
  interval + window after it was written.
- A session belongs to whoever made it: its snapshot holds the auth mode and the token's
  ``sub``, and a reconnect is recovered only with the same (checked before the sid is
  restored, on the same auth data the connect handler reads), with every restored room
  either one the token's claims allow now or one the connect handler joins again (the user
  room, an app's own joins there: recorded from the connect, so what was sent to them while
  the client was away is replayed too). Anything else is a new session, never a partial one.
  A client's own ``socket.disconnect()`` (a Socket.IO DISCONNECT) ends the session on every
  pod: its "ended" record is a tombstone kept longer than any record it supersedes.
- Nothing from before the session is replayed, whatever offset a client sends: what it
  missed starts at the session's connect position at the earliest.
- No offset yet (socket.io #4888): the snapshot's connect position is used. An old offset of
  an idle client (#5282): the snapshot tells the last position sent to it; if the client has
  it, only what came after the snapshot matters. A session recovered elsewhere is taken over:
  its old pod drops it without writing (#4880). A reconnect before the snapshot arrived
  (redis-streams-adapter #26): a clean new session. An offset ahead of this pod's watch (the
  pod that sent it was a moment ahead, as in every reconnect storm) is recovered at once:
  the client has everything up to it, so nothing is replayed and live packets up to it are
  dropped for that session; nobody waits for the watch, and a made-up offset far ahead
  silences only its own session.

python-socketio methods wrapped here, each pinned in
tests/unit/test_engine_limits_match_the_pinned_libraries.py: ``Server._handle_connect`` (plan
a recovery before the connect handler runs), ``Server._send_packet`` (the CONNECT reply: the
replay, then ``{sid, pid}``), ``Server._send_eio_packet`` (live packets to a recovering sid are
held back), ``Server.disconnect`` (a session the server ends is not recoverable),
``Server._handle_disconnect`` (a session the client ends is not recoverable either),
``BaseManager.pre_connect`` (the recovered sid), ``BaseManager.basic_enter_room`` and
``BaseManager.basic_leave_room`` (rooms in the snapshot; ``BaseManager.basic_close_room`` goes
through the latter), ``BaseManager.basic_disconnect`` (the snapshot at disconnect). Relied on
by pushsvc.bus.manager: ``Manager.emit``, ``PubSubManager.emit`` and
``PubSubManager.close_room`` (the messages it publishes for recovery itself),
``PubSubManager._handle_emit`` (the offset, the last argument) and ``PubSubManager._thread``
(one message at a time from ``_listen``, in the listener's greenlet).

The modules, each a layer on the ones before: ``snapshot`` (records, positions), ``bounds``,
``history``, ``state`` (everything recovery holds), ``publisher`` (snapshots to and from the
bus, the start-up list), ``tap`` (the DeliveryTap), ``replay``, ``decide`` (the connect
decision), ``hooks`` (python-socketio wrapped), ``core`` (``Recovery``, ``install``).
"""

from pushsvc.recovery.bounds import snapshot_data
from pushsvc.recovery.core import Recovery, install
from pushsvc.recovery.history import History
from pushsvc.recovery.snapshot import (
    SNAPSHOT_EVENT,
    SNAPSHOT_NAMESPACE,
    VOLATILE_EVENTS,
    Snapshot,
    offset_text,
    parse_offset,
    pid_key,
)

__all__ = [
    "SNAPSHOT_EVENT",
    "SNAPSHOT_NAMESPACE",
    "VOLATILE_EVENTS",
    "History",
    "Recovery",
    "Snapshot",
    "install",
    "offset_text",
    "parse_offset",
    "pid_key",
    "snapshot_data",
]
