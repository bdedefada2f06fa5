"""Who is connected: signed-token (JWT) connect authentication and what the token allows.

A client proves who it is with a JWT that the application minted (in its own login view,
with the same HS256 secret, or with the private key whose public half pushsvc holds). The
token arrives in the Socket.IO ``auth`` payload (``io(url, {auth: {token}})``, 4.x) or, for
clients that cannot send ``auth`` (3.x, the classic page), in the query string
(``?token=...``). It is checked once at connect — signature, ``exp``, ``nbf``, ``iat``,
``aud``, ``iss`` with a small leeway — and again whenever the client sends a fresh one
(``pushsvc_refresh {token}``); a connection whose token runs out is disconnected with
reason ``token_expired`` by one sweep greenlet per process (a heap ordered by expiry, so a
sweep touches only the connections that expired), so revocation takes effect within a
token's lifetime, as in Centrifugo's refresh model.

Keys are local: an HS256 secret (a setting), a PEM public key file or a JWKS file (mounted
from a Secret or ConfigMap). While an HS256 secret is rotated, the one it replaces
(``PUSHSVC_JWT_SECRET_PREVIOUS``) still verifies — tried only when the current one does not
match, and counted — but never signs; a JWKS rotates by ``kid``. Files are read at start-up
and again when they change (checked at most every few seconds, during a verification);
nothing is fetched over the network at connect time, so a slow or down identity provider
never stalls a connect.

The verified token becomes a :class:`Principal`: its ``sub`` (the client joins the room
``user:<sub>``, on every pod, so ``emitter.notify(..., user=sub)`` reaches all of a user's
tabs) and its :class:`Permissions`, read from the ``pushsvc`` claim::

    {"sub": "alice", "exp": ..., "pushsvc": {"rooms": ["job-*", "finance"],
     "publish": ["job-*"], "broadcast": false, "close": []}}

A pattern is a room name, or a prefix followed by ``*`` (``"*"`` alone is any room).
Without the claim the defaults are safe: join nothing (the user room and rooms the server's
own code puts the client in still work), publish nowhere, no broadcast, no close.

Nothing secret is kept: a Principal holds the subject, the permissions and the expiry —
:meth:`Principal.claims` is what may be shown or saved (for example in a session snapshot);
the token itself is dropped once verified, and neither it nor a secret is ever logged
(reason codes and exception class names only).

Refusals are :class:`AuthRefused` with a short code: ``token_missing``, ``token_expired``,
``token_invalid``, ``token_audience``, ``token_issuer``, ``token_not_yet_valid``,
``token_subject`` (a refresh for another user).
"""


from __future__ import annotations

from pushsvc.identity.connections import (
    EXPIRED_REASON,
    EXTENSION_KEY,
    REFRESH_EVENT,
    Identity,
    identity_of,
)
from pushsvc.identity.demo_tokens import DEMO_TOKEN_PATH, register_demo_tokens
from pushsvc.identity.keys import KEY_FILE_CHECK_SECONDS
from pushsvc.identity.principal import (
    MAX_PATTERNS,
    MAX_SUB_CHARS,
    PERMISSIONS_CLAIM,
    REFUSAL_CODES,
    UNRESTRICTED,
    USER_ROOM_PREFIX,
    AuthRefused,
    Permissions,
    Principal,
    principal_from,
    user_room,
)
from pushsvc.identity.redaction import REQUEST_LOGGERS, RedactTokens, install_log_redaction
from pushsvc.identity.sessions import Sessions, sweep_interval
from pushsvc.identity.tokens import (
    MAX_TOKEN_CHARS,
    QUERY_PARAMETER,
    Authenticator,
    describe,
    mint,
    token_from,
)

__all__ = [
    "DEMO_TOKEN_PATH",
    "EXPIRED_REASON",
    "EXTENSION_KEY",
    "KEY_FILE_CHECK_SECONDS",
    "MAX_PATTERNS",
    "MAX_SUB_CHARS",
    "MAX_TOKEN_CHARS",
    "PERMISSIONS_CLAIM",
    "QUERY_PARAMETER",
    "REFRESH_EVENT",
    "REFUSAL_CODES",
    "REQUEST_LOGGERS",
    "UNRESTRICTED",
    "USER_ROOM_PREFIX",
    "AuthRefused",
    "Authenticator",
    "Identity",
    "Permissions",
    "Principal",
    "RedactTokens",
    "Sessions",
    "describe",
    "identity_of",
    "install_log_redaction",
    "mint",
    "principal_from",
    "register_demo_tokens",
    "sweep_interval",
    "token_from",
    "user_room",
]
