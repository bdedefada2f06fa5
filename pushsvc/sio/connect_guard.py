"""Refused Socket.IO CONNECTs are budgeted, per Engine.IO connection and per client address.

A CONNECT packet makes the server check something (a JWT's signature, the Admin UI password)
and nothing bounded how many one client could send: on one WebSocket 2,000 wrong admin
passwords took 1.2 s and 2,000 bad JWTs 1.7 s, each with a log line, and the right password
then worked on the same socket. Before python-socketio handles a CONNECT, this module checks:

- **the connection**: after ``PUSHSVC_CONNECT_REFUSALS_PER_CONNECTION`` refused CONNECTs on
  one Engine.IO connection, the next CONNECT on it is answered at once, unchecked, with
  ``connect_error`` ``too_many_attempts`` and the connection is closed (a long-polling
  one ``POLLING_CLOSE_DELAY_SECONDS`` later, so that answer can still be polled);
- **the client's address** (the peer's, or X-Forwarded-For's from a trusted proxy: the one
  the handshake limits use): refused CONNECTs spend a token bucket of
  ``PUSHSVC_CONNECT_REFUSALS_PER_ADDRESS`` that refills over
  ``PUSHSVC_CONNECT_REFUSAL_WINDOW_SECONDS``. When it runs out, the address is locked out:
  its CONNECTs are refused at once, unchecked, with ``too_many_attempts`` and
  ``retry_after`` (seconds). After a lockout one CONNECT is checked; if it is refused too the
  next lockout lasts twice as long (``PUSHSVC_CONNECT_LOCKOUT_SECONDS`` up to
  30 times that);
- **Admin UI logins** (the ``/admin`` namespace) have a bucket of their own, smaller
  (``PUSHSVC_ADMIN_UI_LOGIN_FAILURES_PER_ADDRESS`` per ``PUSHSVC_ADMIN_UI_LOGIN_WINDOW_SECONDS``),
  with the same lockouts: while locked out, the right password is refused too.

The answer is ``{"message": "too_many_attempts", "data": {"code", "reason", "retry_after"}}``,
the shape of the JWT refusals (``err.message`` / ``err.data`` in socket.io-client). Only
refusals spend a budget: a CONNECT reserves a token before it is checked (python-engineio
handles each message in a greenlet of its own, so checks can overlap) and an accepted one
gives it back. A refusal while the server shuts down is not counted.

Logs: the checks log one line per connection and reason (:func:`first_refusal`), a lockout
one line, a connection closed here one line (none while its address is locked out: the
lockout's line says so); everything else is counted in metrics.

What is wrapped: ``socketio.Server._handle_connect``, outermost (after pushsvc.sio.overrides and
pushsvc.recovery wrapped it), so a CONNECT refused unchecked costs no recovery lookup
either. It relies on ``Server.environ[eio_sid]`` (the handshake's environ, also the one the
connect handlers see as ``request.environ``) living as long as the Engine.IO connection.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from socketio import packet as sio_packet

from pushsvc import metrics
from pushsvc.engineio.bounds import address_of
from pushsvc.settings import Settings
from pushsvc.sio.budget import Clock

logger = logging.getLogger(__name__)

TOO_MANY = "too_many_attempts"
#: Addresses tracked per kind; past it the least recently refused is forgotten.
MAX_ADDRESSES = 20000
_CONNECTION_KEY = "pushsvc.connect_refusals"
#: A long-polling session closed here stays this long, so its last answer can be polled.
POLLING_CLOSE_DELAY_SECONDS = 1.0

__all__ = ["TOO_MANY", "AddressBudget", "ConnectGuard", "address_of", "first_refusal",
           "install"]


@dataclass
class _Connection:
    """What one Engine.IO connection's CONNECTs cost so far (kept in its environ)."""

    refusals: int = 0
    checking: int = 0
    closing: bool = False
    logged: set[str] = field(default_factory=set)


def _connection(environ: dict[str, Any]) -> _Connection:
    found = environ.get(_CONNECTION_KEY)
    if not isinstance(found, _Connection):
        found = _Connection()
        environ[_CONNECTION_KEY] = found
    return found


def first_refusal(environ: dict[str, Any] | None, reason: str) -> bool:
    """True the first time this Engine.IO connection is refused for ``reason``: log it then,
    count it always. ``environ`` is the connection's (``request.environ`` in a handler)."""
    if environ is None:
        return True
    logged = _connection(environ).logged
    if reason in logged:
        return False
    logged.add(reason)
    return True


@dataclass(slots=True)
class _Entry:
    tokens: float
    stamp: float
    locked_until: float = 0.0
    strikes: int = 0


class AddressBudget:
    """Refused CONNECTs per address: a token bucket each, and lockouts that double.

    :param burst: refusals an address may have at once (the bucket's size); 0 = unlimited.
    :param window: seconds in which an empty bucket refills.
    :param lockout: the first lockout's length (seconds).
    :param lockout_max: the longest lockout; quiet this long after one, an address starts
        over from ``lockout``.
    """

    def __init__(self, *, burst: int, window: float, lockout: float, lockout_max: float,
                 clock: Clock = time.monotonic, max_addresses: int = MAX_ADDRESSES) -> None:
        self.burst = float(burst)
        self.rate = self.burst / window
        self.lockout = lockout
        self.lockout_max = lockout_max
        self._clock = clock
        self._max = max_addresses
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, address: str, now: float) -> _Entry:
        entry = self._entries.get(address)
        if entry is None:
            entry = self._entries[address] = _Entry(tokens=self.burst, stamp=now)
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(address)
            if now > entry.stamp:
                entry.tokens = min(self.burst, entry.tokens + (now - entry.stamp) * self.rate)
                entry.stamp = now
        return entry

    def _lock(self, entry: _Entry, now: float) -> float:
        if now - entry.locked_until > self.lockout_max:
            entry.strikes = 0  # quiet for a long time since its last lockout
        entry.strikes += 1
        seconds = min(self.lockout_max, self.lockout * 2.0 ** min(entry.strikes - 1, 30))
        entry.locked_until = now + seconds
        # One CONNECT is checked when the lockout ends; refilling starts then.
        entry.tokens, entry.stamp = 1.0, entry.locked_until
        return seconds

    def admit(self, address: str) -> tuple[float, float]:
        """Reserve a token for one CONNECT: ``(0, 0)`` = check it; else ``(seconds left,
        seconds of a lockout that started now, or 0)`` = refuse it unchecked."""
        if not self.burst:
            return 0.0, 0.0
        now = self._clock()
        entry = self._entry(address, now)
        if now < entry.locked_until:
            return entry.locked_until - now, 0.0
        if entry.tokens < 1.0:  # spent by CONNECTs checked at the same time
            started = self._lock(entry, now)
            return started, started
        entry.tokens -= 1.0
        return 0.0, 0.0

    def waiting(self, address: str) -> float:
        """Seconds left of ``address``'s lockout (0: not locked out)."""
        entry = self._entries.get(address)
        return max(0.0, entry.locked_until - self._clock()) if entry is not None else 0.0

    def accepted(self, address: str) -> None:
        """The CONNECT passed: its token comes back."""
        entry = self._entries.get(address) if self.burst else None
        if entry is not None:
            entry.tokens = min(self.burst, entry.tokens + 1.0)

    def refused(self, address: str) -> float:
        """The CONNECT was refused (its token stays spent); the seconds of a lockout that
        this refusal started, else 0."""
        if not self.burst:
            return 0.0
        now = self._clock()
        entry = self._entry(address, now)
        if now >= entry.locked_until and entry.tokens < 1.0:
            return self._lock(entry, now)
        return 0.0


class ConnectGuard:
    """The refused-CONNECT budgets of one Socket.IO server (see the module docstring).

    :param server: the ``socketio.Server``.
    :param settings: the limits (``PUSHSVC_CONNECT_*``, ``PUSHSVC_ADMIN_UI_LOGIN_*``).
    :param exempt: true while refusals must not count (the server is shutting down).
    :param admin_namespace: the namespace whose CONNECTs are Admin UI logins.
    """

    def __init__(self, server: Any, settings: Settings, *,
                 exempt: Callable[[], bool] = lambda: False,
                 admin_namespace: str = "/admin", clock: Clock = time.monotonic) -> None:
        self.server = server
        self.exempt = exempt
        self.admin_namespace = admin_namespace
        self.per_connection = settings.connect_refusals_per_connection

        def budget(burst: int, window: float) -> AddressBudget:
            return AddressBudget(burst=burst, window=window,
                                 lockout=settings.connect_lockout_seconds,
                                 lockout_max=settings.connect_lockout_max_seconds, clock=clock)

        self.budgets = {
            "client": budget(settings.connect_refusals_per_address,
                             settings.connect_refusal_window_seconds),
            "admin": budget(settings.admin_ui_login_failures_per_address,
                            settings.admin_ui_login_window_seconds),
        }
        metrics.connect_guard_addresses.set_function(
            lambda: sum(len(b) for b in self.budgets.values()))

    def install(self) -> None:
        original = self.server._handle_connect

        def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
            return self.handle_connect(original, eio_sid, namespace, data)

        self.server._handle_connect = handle_connect

    def handle_connect(self, original: Callable[..., Any], eio_sid: str,
                       namespace: str | None, data: Any) -> Any:
        environ = self.server.environ.get(eio_sid)
        if environ is None or self.exempt():
            return original(eio_sid, namespace, data)
        ns = namespace or "/"
        kind = "admin" if ns == self.admin_namespace else "client"
        budget = self.budgets[kind]
        address = address_of(environ)
        conn = _connection(environ)
        over = conn.refusals + conn.checking >= self.per_connection
        wait, started = budget.waiting(address), 0.0
        if not (wait or over):
            wait, started = budget.admit(address)
            if started:
                self._locked_out(address, kind, started)
        if wait or over:
            conn.refusals += 1
            if wait:
                reason = ("too many refused connects from your address; try again after "
                          "retry_after seconds")
            else:
                reason = (f"{self.per_connection} connects were refused on this connection: "
                          "it is closed; connect again on a new one")
            self._refuse_unchecked(eio_sid, ns, reason, retry_after=math.ceil(wait))
            if over:
                self._close(eio_sid, conn, address, budget)
            return None
        manager = self.server.manager
        before = manager.sid_from_eio_sid(eio_sid, ns)
        conn.checking += 1
        try:
            return original(eio_sid, namespace, data)
        finally:
            conn.checking -= 1
            sid = manager.sid_from_eio_sid(eio_sid, ns)
            if sid is not None and sid != before and manager.is_connected(sid, ns):
                budget.accepted(address)
            elif not self.exempt():
                conn.refusals += 1
                started = budget.refused(address)
                if started:
                    self._locked_out(address, kind, started)

    def _refuse_unchecked(self, eio_sid: str, namespace: str, reason: str, *,
                          retry_after: int) -> None:
        metrics.refused_connections.labels(reason=TOO_MANY).inc()
        data = {"message": TOO_MANY,
                "data": {"code": TOO_MANY, "reason": reason, "retry_after": retry_after}}
        self.server._send_packet(eio_sid, self.server.packet_class(
            sio_packet.CONNECT_ERROR, data=data, namespace=namespace))

    def _close(self, eio_sid: str, conn: _Connection, address: str,
               budget: AddressBudget) -> None:
        eio = self.server.eio
        session = eio.sockets.get(eio_sid)
        if session is None or conn.closing:
            return
        conn.closing = True
        if not session.upgraded:
            # Long-polling: the answer waits in the session's queue for the next GET, which
            # the engine refuses once the session is closed: close it a moment later.
            eio.start_background_task(self._close_later, eio_sid, address, budget)
        else:
            self._close_now(eio_sid, address, budget)

    def _close_later(self, eio_sid: str, address: str, budget: AddressBudget) -> None:
        self.server.eio.sleep(POLLING_CLOSE_DELAY_SECONDS)
        self._close_now(eio_sid, address, budget)

    def _close_now(self, eio_sid: str, address: str, budget: AddressBudget) -> None:
        if eio_sid not in self.server.eio.sockets:
            return  # the client left first
        why = f"more than {self.per_connection} CONNECTs refused on it"
        # A locked-out address's lockout line already covers its connections.
        self.server.eio.close_for(eio_sid, TOO_MANY, why, log=not budget.waiting(address))

    def _locked_out(self, address: str, kind: str, seconds: float) -> None:
        metrics.connect_lockouts.labels(kind=kind).inc()
        what = "Admin UI logins" if kind == "admin" else "CONNECTs"
        logger.warning("locked out %s from %s for %d s: too many refused; until then they "
                       "are refused unchecked (too_many_attempts), counted in "
                       "pushsvc_refused_connections_total, not logged", what, address,
                       math.ceil(seconds))


def install(server: Any, settings: Settings, *, exempt: Callable[[], bool] = lambda: False,
            admin_namespace: str = "/admin") -> ConnectGuard:
    """Budget the refused CONNECTs of ``server``; call it after every other wrapper of
    ``_handle_connect`` (pushsvc.sio.overrides, pushsvc.recovery)."""
    guard = ConnectGuard(server, settings, exempt=exempt, admin_namespace=admin_namespace)
    guard.install()
    return guard
