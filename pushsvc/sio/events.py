"""The events every app gets: the token refresh, the checks in front of the app's own
events, and the answer to an event nobody handles."""

from __future__ import annotations

from typing import Any

from pushsvc import metrics
from pushsvc.identity import REFRESH_EVENT, AuthRefused
from pushsvc.sio.guards import Guards
from pushsvc.sio.overrides import PushSocketIO
from pushsvc.sio.packets import ProtocolError, check_size, require_object


def register_events(guards: Guards) -> None:
    """``pushsvc_refresh``, the app events' guard (on a :class:`PushSocketIO`) and ``*``."""
    socketio, identity = guards.socketio, guards.identity

    if isinstance(socketio, PushSocketIO):
        socketio.event_guard = guards.check_app_event

    @guards.guarded(REFRESH_EVENT)
    def refresh_token(message: Any) -> dict[str, Any]:
        token = require_object(message, shape="{token}").get("token")
        try:
            principal = identity.refresh(guards.sid(), token)
        except AuthRefused as refused:
            metrics.token_refreshes.labels(result=refused.code).inc()
            raise ProtocolError(refused.code, refused.reason) from None
        metrics.token_refreshes.labels(result="ok").inc()
        return {"ok": True, "exp": principal.expires_at}

    def unknown_event(event: str, *args: Any) -> dict[str, Any]:
        name = event[:64] if isinstance(event, str) else "?"
        refused = guards.over_rate(name)
        if refused is not None:
            return refused
        try:
            check_size(args, limit=guards.settings.max_message_bytes)
        except ProtocolError as err:
            return guards.reject(name, err)
        return guards.reject(name, ProtocolError("unknown_event", f"unknown event {name!r}"))

    socketio.on_event("*", unknown_event)
