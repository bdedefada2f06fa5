"""The Socket.IO layer's guards and packet rules: what every client message and CONNECT
passes before an application's handler runs.

- :mod:`pushsvc.sio.packets`: the rules for a client's message (an object of the expected
  shape, a room name a client may use, nesting depth, size), each refusal a
  :class:`ProtocolError` with a stable code;
- :mod:`pushsvc.sio.budget`: the token buckets behind the event rate and the publishing
  budgets, per client and per pod;
- :mod:`pushsvc.sio.guards`: :class:`Guards`, what one app's handlers share (settings,
  service, identity, each client's budget) and the checks and replies built on it;
- :mod:`pushsvc.sio.connect`: the connect check, the disconnect, token expiry;
- :mod:`pushsvc.sio.events`: ``pushsvc_refresh``, the guard in front of the app's own
  events, the answer to an unknown event;
- :mod:`pushsvc.sio.overrides`: :class:`PushSocketIO` and the CONNECT that raised.

``install`` registers them on an app's SocketIO; the classic protocol (pushsvc.classic)
adds its events through the :class:`Guards` it returns.

Only the plain-Python rules (``packets``, ``budget``) are imported with the package: modules
beneath the Socket.IO handlers (connect_guard, recovery's bounds) use them, and the handlers
import those modules in turn. The Flask-SocketIO side is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pushsvc.sio.budget import ClientBudget, StrikeCounter, TokenBucket, take_all
from pushsvc.sio.packets import ProtocolError, check_depth, check_size, encoded_size

if TYPE_CHECKING:
    from flask_socketio import SocketIO

    from pushsvc.identity import Identity
    from pushsvc.service import PushService
    from pushsvc.settings import Settings
    from pushsvc.sio.connect import token_matches
    from pushsvc.sio.guards import ERROR_EVENT, OK, Guards
    from pushsvc.sio.overrides import PushSocketIO

__all__ = [
    "ERROR_EVENT",
    "OK",
    "ClientBudget",
    "Guards",
    "ProtocolError",
    "PushSocketIO",
    "StrikeCounter",
    "TokenBucket",
    "check_depth",
    "check_size",
    "encoded_size",
    "install",
    "take_all",
    "token_matches",
]

#: Re-exported names of the Flask-SocketIO side, and the module each is imported from.
_LAZY = {
    "ERROR_EVENT": "pushsvc.sio.guards",
    "OK": "pushsvc.sio.guards",
    "Guards": "pushsvc.sio.guards",
    "PushSocketIO": "pushsvc.sio.overrides",
    "token_matches": "pushsvc.sio.connect",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def install(socketio: SocketIO, *, settings: Settings, service: PushService,
            identity: Identity | None = None) -> Guards:
    """Register connect/disconnect, token refresh, the app events' guard and the
    unknown-event catch-all on ``socketio``; return the :class:`Guards` they share (the
    classic protocol registers its events through it, recovery finds a client's budget with
    :meth:`Guards.client_budget`)."""
    from pushsvc import metrics
    from pushsvc.identity import Identity
    from pushsvc.sio.connect import register_connect
    from pushsvc.sio.events import register_events
    from pushsvc.sio.guards import Guards
    from pushsvc.sio.overrides import refuse_connect_on_error

    identity = identity if identity is not None else Identity(settings)
    guards = Guards(socketio, settings=settings, service=service, identity=identity)
    metrics.sessions.set_function(lambda: len(service.local_sids()))
    if socketio.server is not None:
        refuse_connect_on_error(socketio.server)
    register_connect(guards)
    register_events(guards)
    return guards
