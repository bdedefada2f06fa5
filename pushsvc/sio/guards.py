"""What every Socket.IO handler of one app shares: the settings, the service, identity, each
connected client's budget, and the checks and replies built on them (:class:`Guards`).

Abuse is bounded by limits, not by narrower semantics (pushsvc.sio.budget): events per second
per client (code ``rate_limited``; a client that keeps hammering is disconnected), a
publishing budget per client and per pod, in messages and bytes, for the handlers whose
messages become bus Events (code ``publish_rate_limited``), and the message size and depth
(pushsvc.sio.packets). Every refusal is an ack ``{"ok": false, "event", "code", "reason"}``
and an ``error`` event with ``{"event", "code", "reason"}``; the server logs one line per
client and code, without the payload, and the connection stays open.
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import SocketIO, disconnect

from pushsvc import metrics
from pushsvc.identity import Identity
from pushsvc.service import PushService
from pushsvc.settings import Settings
from pushsvc.sio.budget import ClientBudget, StrikeCounter, TokenBucket, take_all
from pushsvc.sio.overrides import GUARDED
from pushsvc.sio.packets import ProtocolError, check_size, encoded_size

logger = logging.getLogger(__name__)

ERROR_EVENT = "error"
OK: dict[str, Any] = {"ok": True}
_PUBLISH_LIMITS = (
    ("client", "messages"),
    ("client", "bytes"),
    ("pod", "messages"),
    ("pod", "bytes"),
)
Handler = Callable[..., Any]


class Guards:
    """One app's handlers' shared state and checks.

    :param socketio: the app's SocketIO.
    :param settings: the limits, the reply event.
    :param service: readiness (a connect is refused while shutting down) and the manager.
    :param identity: who each connection is and what it may do.
    """

    def __init__(self, socketio: SocketIO, *, settings: Settings, service: PushService,
                 identity: Identity) -> None:
        self.socketio = socketio
        self.settings = settings
        self.service = service
        self.identity = identity
        #: This pod's name as the demo page shows it.
        self.pod = settings.pod_name or f"{socket.gethostname()}:{settings.port}"
        #: Run inside the connect check, after it passed, with the client's sid (the classic
        #: protocol's greeting); an exception refuses the connect.
        self.greetings: list[Callable[[str], None]] = []
        self._budgets: dict[str, ClientBudget] = {}
        self._counted: set[str] = set()
        self._pod_messages = TokenBucket(rate=settings.publish_pod_messages_per_second,
                                         burst=settings.publish_pod_burst_messages)
        self._pod_bytes = TokenBucket(rate=settings.publish_pod_bytes_per_second,
                                      burst=settings.publish_pod_burst_bytes)

    @staticmethod
    def sid() -> str:
        """The sid of the client whose event or connect is being handled."""
        return str(request.sid)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ connected clients

    def connected(self, client: str) -> None:
        """Count an accepted connection; from now on it keeps a budget."""
        self._counted.add(client)
        metrics.connected_clients.inc()

    def disconnected(self, client: str) -> None:
        """Forget a client's budget and uncount it (if it was accepted)."""
        self._budgets.pop(client, None)
        if client in self._counted:
            self._counted.discard(client)
            metrics.connected_clients.dec()

    def client_budget(self, client: str) -> ClientBudget | None:
        """A connected client's budget, None for any other sid (recovery charges the
        snapshot writes a client causes to its publish byte budget)."""
        return self._budgets.get(client)

    def budget_of(self, client: str) -> ClientBudget:
        budget = self._budgets.get(client)
        if budget is None:
            settings = self.settings
            budget = ClientBudget(
                events=TokenBucket(
                    rate=settings.client_events_per_second, burst=settings.client_events_burst
                ),
                publish_messages=TokenBucket(
                    rate=settings.publish_client_messages_per_second,
                    burst=settings.publish_client_burst_messages,
                ),
                publish_bytes=TokenBucket(
                    rate=settings.publish_client_bytes_per_second,
                    burst=settings.publish_client_burst_bytes,
                ),
                rate_strikes=StrikeCounter(
                    limit=settings.client_rate_limited_disconnect_after,
                    window=settings.client_rate_limited_window_seconds,
                ),
            )
            # A handler still running for a client that has just disconnected must not
            # leave its budget behind: only connected clients keep one.
            if client in self._counted:
                self._budgets[client] = budget
        return budget

    # ------------------------------------------------------------------ replies

    def send_reply(self, data: Any, *, to: str, direct: bool = False) -> None:
        # direct: straight to this pod's socket, never an Event (with connection state
        # recovery on, every other reply goes through the bus to carry an offset).
        self.socketio.emit(self.settings.reply_event, {"data": data}, to=to,
                           ignore_queue=direct)

    def reject(self, event: str, err: ProtocolError) -> dict[str, Any]:
        payload = err.as_payload(event)
        client = self.sid()
        metrics.rejected_messages.labels(code=err.code).inc()
        if self.budget_of(client).first_time(err.code):
            logger.warning(
                "rejected %r from %s: %s (%s); further %s refusals of this client are not "
                "logged", event, client, err.code, err.reason, err.code,
            )
        self.socketio.emit(ERROR_EVENT, payload, to=client)
        return {"ok": False, **payload}

    # ------------------------------------------------------------------ checks

    def over_rate(self, event: str) -> dict[str, Any] | None:
        """None if the client may send one more event now, else the refusal (ack value)."""
        settings = self.settings
        client = self.sid()
        budget = self.budget_of(client)
        if budget.disconnecting:
            return {"ok": False, "event": event, "code": "rate_limited",
                    "reason": "disconnecting"}
        if budget.events.take(1.0):
            return None
        answer = self.reject(event, ProtocolError(
            "rate_limited",
            f"more than {settings.client_events_per_second:g} events per second (bursts of "
            f"{settings.client_events_burst}); this message was dropped, slow down",
        ))
        if budget.rate_strikes.hit():
            budget.disconnecting = True
            reason = (
                f"disconnected: {settings.client_rate_limited_disconnect_after} messages "
                f"refused for rate within {settings.client_rate_limited_window_seconds:g} s"
            )
            metrics.client_disconnects.labels(reason="rate_limited").inc()
            logger.warning("disconnected %s: kept sending over its event rate", client)
            self.socketio.emit(
                ERROR_EVENT,
                {"event": event, "code": "rate_limited_disconnect", "reason": reason},
                to=client,
            )
            disconnect(sid=client)
        return answer

    def charge_publish(self, message: Any) -> None:
        """Spend the client's and the pod's publishing budget on one message, or refuse it."""
        size = encoded_size(message)
        budget = self.budget_of(self.sid())
        short = take_all([
            (budget.publish_messages, 1.0), (budget.publish_bytes, float(size)),
            (self._pod_messages, 1.0), (self._pod_bytes, float(size)),
        ])
        if short is None:
            return
        scope, unit = _PUBLISH_LIMITS[short]
        metrics.publish_refused.labels(scope=scope, unit=unit).inc()
        whose = "your" if scope == "client" else "this server's"
        raise ProtocolError(
            "publish_rate_limited",
            f"over {whose} publishing budget ({unit} per second) for messages to other "
            "clients; this message was dropped, try again later",
        )

    def check_app_event(self, event: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        """The checks every event passes before its handler runs: None, or the refusal."""
        refused = self.over_rate(event)
        if refused is not None:
            return refused
        try:
            check_size(args, limit=self.settings.max_message_bytes)
        except ProtocolError as err:
            return self.reject(event, err)
        return None

    def guarded(self, event: str) -> Callable[[Handler], Handler]:
        """Register ``fn(message)`` for ``event`` behind the checks; a ProtocolError it
        raises becomes the refusal."""
        def wrap(fn: Handler) -> Handler:
            @functools.wraps(fn)
            def handler(*args: Any) -> Any:
                refused = self.over_rate(event)
                if refused is not None:
                    return refused
                try:
                    check_size(args, limit=self.settings.max_message_bytes)
                    return fn(args[0] if args else None)
                except ProtocolError as err:
                    return self.reject(event, err)

            setattr(handler, GUARDED, True)
            self.socketio.on_event(event, handler)
            return handler

        return wrap
