"""The two places pushsvc changes how Flask-SocketIO / python-socketio handle an event or a
CONNECT, and why.

- :class:`PushSocketIO` (the SocketIO ``init_app`` returns): every event handler registered
  on it, the application's own included (``@socketio.on("add")``, ``on_event``, ``event``),
  first passes the event rate and the message size checks (``event_guard``,
  :meth:`pushsvc.sio.guards.Guards.check_app_event`); a refused event gets the same ack and
  ``error`` event as a classic one, and the application's handler is not called.
- :func:`refuse_connect_on_error`: a CONNECT whose handling raised anything is refused and
  forgotten (python-socketio would keep the client pre-connected).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask_socketio import SocketIO
from socketio import packet

from pushsvc import metrics
from pushsvc.sio.connect_guard import first_refusal

logger = logging.getLogger(__name__)

CONNECT_CHECK_FAILED = "connection check failed"
#: Refused CONNECTs are logged once per Engine.IO connection and reason (pushsvc.sio.connect_guard).
NOT_AGAIN = "; further such refusals on this connection are counted, not logged"
#: Set on pushsvc's own handlers, which run the checks themselves (``Guards.guarded``).
GUARDED = "_pushsvc_guarded"
#: Handlers that are not a client's events.
_NOT_EVENTS = frozenset({"connect", "disconnect", "*"})
EventGuard = Callable[[str, tuple[Any, ...]], "dict[str, Any] | None"]


class PushSocketIO(SocketIO):
    """The SocketIO ``init_app`` returns: every event handler registered on it, the
    application's own included (``@socketio.on("add")``, ``on_event``, ``event``), first
    passes the per-client event rate and the message size checks that ``pushsvc.sio``
    installs (``event_guard``); a refused event gets the same ack and ``error`` event as a
    classic one, and the application's handler is not called."""

    event_guard: EventGuard | None = None

    def on(self, message: str, namespace: str | None = None
           ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().on(message, namespace)
        if message in _NOT_EVENTS:
            return register

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            if getattr(handler, GUARDED, False):
                return register(handler)

            @functools.wraps(handler)
            def checked(*args: Any) -> Any:
                guard = self.event_guard
                refused = guard(message, args) if guard is not None else None
                return refused if refused is not None else handler(*args)

            register(checked)
            return handler

        return decorator


def refuse_connect_on_error(server: Any) -> None:
    """Refuse, and forget, a connect whose handling raised anywhere, not only in our handler.

    python-socketio's ``_handle_connect`` turns only ConnectionRefusedError into a refusal.
    Any other exception (in Flask-SocketIO's wrapper, or an application's own connect
    handler) escapes it with the client pre-connected: in the manager's rooms, so it gets
    broadcasts, and never removed, because the disconnect path skips pre-connected clients.
    This wraps that one method (python-socketio is pinned in pyproject.toml).
    """
    original = server._handle_connect

    def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> Any:
        try:
            return original(eio_sid, namespace, data)
        except Exception as exc:
            ns = namespace or "/"
            manager = server.manager
            client = manager.sid_from_eio_sid(eio_sid, ns)
            metrics.refused_connections.labels(reason="error").inc()
            if first_refusal(server.environ.get(eio_sid), "error"):
                logger.warning("refused connection %s: %s while connecting it%s", client,
                               type(exc).__name__, NOT_AGAIN)
            if client is not None and not manager.is_connected(client, ns):
                server._send_packet(eio_sid, server.packet_class(
                    packet.CONNECT_ERROR, data={"message": CONNECT_CHECK_FAILED}, namespace=ns))
                manager.disconnect(client, ns, ignore_queue=True)
            return None

    server._handle_connect = handle_connect
