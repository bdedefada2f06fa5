"""One app's identity: its connect authentication mode, each connection's Principal, the
token refresh and the expiry sweep (:class:`Identity`, reached with :func:`identity_of`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pushsvc.identity.principal import UNRESTRICTED, AuthRefused, Permissions, Principal
from pushsvc.identity.sessions import Sessions, sweep_interval
from pushsvc.identity.tokens import Authenticator

if TYPE_CHECKING:
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

#: The client event that replaces the connection's token (``{token}``, answered by an ack).
REFRESH_EVENT = "pushsvc_refresh"
#: Key of the Identity in ``app.extensions``; use :func:`identity_of`.
EXTENSION_KEY = "pushsvc.identity"
EXPIRED_REASON = ("your token expired: reconnect with a fresh one (send pushsvc_refresh "
                  "{token} before it runs out to stay connected)")


class Identity:
    """One app's connect authentication mode, its connections' principals and the expiry
    sweep. Server code reaches it with :func:`identity_of(app) <identity_of>`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mode = settings.effective_auth_mode
        self.authenticator = Authenticator(settings) if self.mode == "jwt" else None
        self.sessions = Sessions()
        self._sweeping = False

    @property
    def jwt(self) -> bool:
        return self.authenticator is not None

    def authenticate(self, auth: Any, environ: Mapping[str, Any] | None) -> Principal | None:
        """JWT mode: the connect's Principal (None = anonymous); other modes: None."""
        if self.authenticator is None:
            return None
        return self.authenticator.authenticate(auth, environ)

    def permissions(self, sid: str) -> Permissions:
        """What ``sid`` may do: unrestricted outside JWT mode, else its token's claims."""
        return self.permissions_of(self.sessions.principal(sid))

    def permissions_of(self, principal: Principal | None) -> Permissions:
        """What a connection with this Principal (None: anonymous) may do."""
        if self.authenticator is None:
            return UNRESTRICTED
        return principal.permissions if principal is not None else Permissions()

    def principal(self, sid: str) -> Principal | None:
        return self.sessions.principal(sid)

    def register(self, sid: str, principal: Principal | None) -> None:
        """Record an accepted connection's Principal (expiry tracked, listed per user). The
        connect handler calls it; so does anything that restores a session (connection state
        recovery) after re-running :meth:`authenticate` and joining ``principal.room``."""
        if principal is not None:
            self.sessions.add(sid, principal)

    def sessions_of(self, sub: str) -> list[str]:
        """Session ids of user ``sub`` connected to THIS process. Every pod has its own; the
        room ``user:<sub>`` reaches all of them (emit to it) without listing them."""
        return self.sessions.sids_of(sub)

    def refresh(self, sid: str, token: Any) -> Principal:
        """Replace ``sid``'s token; the subject must stay the same."""
        if self.authenticator is None:
            raise AuthRefused("token_invalid", "this server does not use signed tokens")
        principal = self.authenticator.verify(token)
        current = self.sessions.principal(sid)
        if current is None or current.sub != principal.sub:
            raise AuthRefused("token_subject", "a refresh token must be for the same user as "
                              "the connection's")
        self.sessions.add(sid, principal)
        return principal

    def start_sweeper(self, socketio: Any, on_expired: Any) -> None:
        """One background task for the process: every jwt_expiry_sweep_seconds, call
        ``on_expired(sid)`` for each connection whose token ran out."""
        if self.authenticator is None or self._sweeping:
            return
        self._sweeping = True
        interval = sweep_interval(self.settings)
        leeway = self.settings.jwt_leeway_seconds

        def sweep() -> None:
            while True:
                socketio.sleep(interval)
                for sid in self.sessions.expired(time.time(), leeway):
                    try:
                        on_expired(sid)
                    except Exception as exc:  # one client's failure never stops the sweep
                        logger.warning("could not disconnect expired %s: %s", sid,
                                       type(exc).__name__)

        socketio.start_background_task(sweep)


def identity_of(app: Any) -> Identity:
    """The Identity ``pushsvc.init_app`` attached to ``app`` (KeyError if it did not)."""
    identity: Identity = app.extensions[EXTENSION_KEY]
    return identity
