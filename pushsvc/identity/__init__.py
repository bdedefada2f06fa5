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

import heapq
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pushsvc import metrics

if TYPE_CHECKING:
    from pushsvc.settings import Settings

logger = logging.getLogger(__name__)

#: The room every connection of user ``sub`` is in: ``user:<sub>`` (reserved for clients).
USER_ROOM_PREFIX = "user:"
#: The claim holding pushsvc's room permissions.
PERMISSIONS_CLAIM = "pushsvc"
#: The client event that replaces the connection's token (``{token}``, answered by an ack).
REFRESH_EVENT = "pushsvc_refresh"
#: Query-string parameter carrying the token for clients that cannot send ``auth``.
QUERY_PARAMETER = "token"
MAX_TOKEN_CHARS = 8192
MAX_SUB_CHARS = 256
MAX_PATTERNS = 100
#: Key files are checked for changes at most this often (seconds), during a verification.
KEY_FILE_CHECK_SECONDS = 2.0

REFUSAL_CODES = (
    "token_missing", "token_expired", "token_invalid", "token_audience", "token_issuer",
    "token_not_yet_valid", "token_subject",
)


class AuthRefused(Exception):
    """A token (or its absence) that the server refuses; ``code`` is stable, ``reason`` is
    for humans and never contains the token."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# --------------------------------------------------------------------------- permissions


def _matches(room: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.endswith("*"):
            if room.startswith(pattern[:-1]):
                return True
        elif room == pattern:
            return True
    return False


@dataclass(frozen=True)
class Permissions:
    """What a client may do with rooms; ``unrestricted`` is the non-JWT modes' (today's rules
    and switches only)."""

    join: tuple[str, ...] = ()
    publish: tuple[str, ...] = ()
    close: tuple[str, ...] = ()
    broadcast: bool = False
    unrestricted: bool = False
    #: Rooms whose presence (who is in them, on every pod) the client may ask for.
    presence: tuple[str, ...] = ()

    def may_join(self, room: str) -> bool:
        return self.unrestricted or _matches(room, self.join)

    def may_publish(self, room: str) -> bool:
        return self.unrestricted or _matches(room, self.publish)

    def may_close(self, room: str) -> bool:
        return self.unrestricted or _matches(room, self.close)

    def may_see_presence(self, room: str) -> bool:
        """The token's ``presence`` patterns only (pushsvc.presence decides the non-JWT modes)."""
        return _matches(room, self.presence)

    @property
    def may_broadcast(self) -> bool:
        return self.unrestricted or self.broadcast

    def as_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {"rooms": list(self.join), "publish": list(self.publish),
                                 "close": list(self.close), "broadcast": self.broadcast}
        if self.presence:
            claim["presence"] = list(self.presence)
        return claim

    @classmethod
    def from_claim(cls, value: Any) -> Permissions:
        """Read the ``pushsvc`` claim; absent = the safe defaults; malformed = token_invalid."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise AuthRefused("token_invalid", f"the {PERMISSIONS_CLAIM!r} claim must be an "
                              "object")
        broadcast = value.get("broadcast", False)
        if not isinstance(broadcast, bool):
            raise AuthRefused("token_invalid", "'broadcast' in the token must be true or false")
        return cls(join=_patterns(value, "rooms"), publish=_patterns(value, "publish"),
                   close=_patterns(value, "close"), broadcast=broadcast,
                   presence=_patterns(value, "presence"))


UNRESTRICTED = Permissions(unrestricted=True)


def _patterns(claim: dict[str, Any], key: str) -> tuple[str, ...]:
    value = claim.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > MAX_PATTERNS or not all(
        isinstance(p, str) and 0 < len(p) <= 256 for p in value
    ):
        raise AuthRefused("token_invalid", f"{key!r} in the token must be a list of at most "
                          f"{MAX_PATTERNS} room names or prefix patterns ('job-*')")
    return tuple(value)


@dataclass(frozen=True)
class Principal:
    """A verified client: its subject, permissions and expiry (Unix seconds, None = none)."""

    sub: str
    permissions: Permissions = field(default_factory=Permissions)
    expires_at: float | None = None

    @property
    def room(self) -> str:
        return user_room(self.sub)

    def claims(self) -> dict[str, Any]:
        """The non-secret claims, safe to show or store (never the token)."""
        return {"sub": self.sub, "exp": self.expires_at,
                PERMISSIONS_CLAIM: self.permissions.as_claim()}


def user_room(sub: str) -> str:
    return USER_ROOM_PREFIX + sub


# --------------------------------------------------------------------------- keys


class _Keys:
    """The verification keys: a secret, a PEM public key or a JWKS, reloaded on file change."""

    def __init__(self, *, secret: str | None, pem_file: str | None, jwks_file: str | None,
                 algorithms: list[str], previous_secret: str | None = None) -> None:
        sources = [s for s in (secret, pem_file, jwks_file) if s]
        if len(sources) != 1:
            raise ValueError("JWT mode needs exactly one of PUSHSVC_JWT_SECRET, "
                             "PUSHSVC_JWT_PUBLIC_KEY_FILE, PUSHSVC_JWT_JWKS_FILE")
        if previous_secret and not secret:
            raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS needs PUSHSVC_JWT_SECRET")
        self._secret = secret
        #: The secret being rotated out: verifies, never signs (None outside a rotation).
        self.previous: str | None = previous_secret or None
        file_name = pem_file or jwks_file
        self._path = Path(file_name) if file_name else None
        self._jwks = jwks_file is not None
        self._configured_algorithms = list(algorithms)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._key: Any = None
        self._by_kid: dict[str, Any] = {}
        self.algorithms: list[str] = []
        self._load()  # at start-up a bad file stops the server, with the reason

    def _load(self) -> None:
        if self._secret is not None:
            self._key = self._secret
            self.algorithms = self._configured_algorithms or ["HS256"]
            return
        assert self._path is not None
        stat = self._path.stat()
        text = self._path.read_text()
        if self._jwks:
            keyset = jwt.PyJWKSet.from_json(text)
            by_kid = {k.key_id or "": k for k in keyset.keys}
            if not by_kid:
                raise ValueError(f"{self._path}: the JWKS holds no usable key")
            self._by_kid = by_kid
            found = sorted({k.algorithm_name for k in keyset.keys if k.algorithm_name})
            self.algorithms = self._configured_algorithms or found or ["RS256", "ES256"]
        else:
            key = serialization.load_pem_public_key(text.encode())
            if isinstance(key, rsa.RSAPublicKey):
                default = ["RS256"]
            elif isinstance(key, ec.EllipticCurvePublicKey):
                default = {"secp256r1": ["ES256"], "secp384r1": ["ES384"]}.get(
                    key.curve.name, ["ES256"])
            else:
                raise ValueError(f"{self._path}: only RSA and EC public keys are supported")
            self._key = key
            self.algorithms = self._configured_algorithms or default
        self._stamp = (stat.st_mtime_ns, stat.st_size)

    def _maybe_reload(self) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if now - self._checked < KEY_FILE_CHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            try:
                stat = self._path.stat()
            except OSError:
                return  # a Secret being re-mounted: keep the keys we have
            if (stat.st_mtime_ns, stat.st_size) == self._stamp:
                return
            try:
                self._load()
                logger.info("reloaded JWT verification keys from %s", self._path)
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                self._stamp = (stat.st_mtime_ns, stat.st_size)
                logger.warning("could not reload JWT keys from %s (%s); keeping the previous "
                               "ones", self._path, type(exc).__name__)

    def key_for(self, token: str) -> Any:
        self._maybe_reload()
        if not self._jwks:
            return self._key
        try:
            kid = jwt.get_unverified_header(token).get("kid") or ""
        except jwt.PyJWTError as exc:
            raise AuthRefused("token_invalid", "the token is not a JWT") from exc
        found = self._by_kid.get(kid)
        if found is None and len(self._by_kid) == 1 and not kid:
            found = next(iter(self._by_kid.values()))
        if found is None:
            raise AuthRefused("token_invalid", "the token's key id is not among the server's "
                              "keys")
        return found.key


# --------------------------------------------------------------------------- verification


class Authenticator:
    """Checks a connect's token (a plain function of the auth payload and the environ, so a
    reconnect that restores a session can run the same check) and refresh tokens.

    :param settings: the JWT settings (``PUSHSVC_JWT_*``).
    """

    def __init__(self, settings: Settings) -> None:
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        previous = (settings.jwt_secret_previous.get_secret_value()
                    if settings.jwt_secret_previous else None)
        self._keys = _Keys(secret=secret, pem_file=settings.jwt_public_key_file,
                           jwks_file=settings.jwt_jwks_file,
                           algorithms=list(settings.jwt_algorithms), previous_secret=previous)
        self.required = settings.jwt_required
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.leeway = settings.jwt_leeway_seconds
        self.require_exp = settings.jwt_require_exp

    @property
    def algorithms(self) -> list[str]:
        return list(self._keys.algorithms)

    def authenticate(self, auth: Any, environ: Mapping[str, Any] | None) -> Principal | None:
        """The Principal of a connect; None for an anonymous client when tokens are optional.

        :raises AuthRefused: no token where one is required, or a token that fails a check.
        """
        token = token_from(auth, environ)
        if token is None:
            if self.required:
                raise AuthRefused("token_missing", "connect with auth {token} (or ?token= in "
                                  "the query string)")
            return None
        return self.verify(token)

    def verify(self, token: Any) -> Principal:
        """Verify one token; raise AuthRefused with the reason code."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise AuthRefused("token_invalid", "the token must be a non-empty string of at "
                              f"most {MAX_TOKEN_CHARS} characters")
        try:
            claims = self._decode(token)
        except jwt.ExpiredSignatureError as exc:
            raise AuthRefused("token_expired", "the token has expired; get a fresh one") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthRefused("token_not_yet_valid", "the token is not valid yet (nbf/iat in "
                              "the future)") from exc
        except (jwt.InvalidAudienceError, jwt.MissingRequiredClaimError) as exc:
            if isinstance(exc, jwt.MissingRequiredClaimError) and exc.claim != "aud":
                if exc.claim == "iss":
                    raise AuthRefused("token_issuer", "the token has no issuer") from exc
                raise AuthRefused("token_invalid",
                                  f"the token has no {exc.claim!r} claim") from exc
            raise AuthRefused("token_audience", "the token is not for this audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthRefused("token_issuer", "the token is from another issuer") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AuthRefused("token_invalid", "the token is malformed or its signature does "
                              "not verify") from exc
        return principal_from(claims)

    def _decode(self, token: str) -> dict[str, Any]:
        required = ["sub", "exp"] if self.require_exp else ["sub"]

        def decode(key: Any) -> dict[str, Any]:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=self.algorithms,
                audience=self.audience, issuer=self.issuer, leeway=self.leeway,
                options={"require": required, "verify_aud": self.audience is not None,
                         "verify_iss": self.issuer is not None, "verify_iat": True},
            )
            return claims

        try:
            return decode(self._keys.key_for(token))
        except jwt.InvalidSignatureError:
            # PyJWT checks the signature before any claim, so only a token that the current
            # secret did not sign is tried against the one being rotated out.
            if self._keys.previous is None:
                raise
        claims = decode(self._keys.previous)
        metrics.previous_secret_verified.labels(secret="jwt").inc()
        return claims


def principal_from(claims: Mapping[str, Any]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_CHARS or not sub.isprintable():
        raise AuthRefused("token_invalid", f"'sub' must be a printable string of 1-"
                          f"{MAX_SUB_CHARS} characters")
    exp = claims.get("exp")
    expires = float(exp) if isinstance(exp, int | float) and math.isfinite(exp) else None
    return Principal(sub=sub, permissions=Permissions.from_claim(claims.get(PERMISSIONS_CLAIM)),
                     expires_at=expires)


def token_from(auth: Any, environ: Mapping[str, Any] | None) -> Any:
    """The token of a connect: ``auth["token"]``, else the ``token`` query parameter.

    Only the literal name ``token`` counts (not a percent-encoded spelling of it), so what
    the load balancer's access log redacts (haproxy.cfg) is exactly what is accepted.
    """
    if isinstance(auth, dict) and auth.get("token") is not None:
        return auth.get("token")
    query = str((environ or {}).get("QUERY_STRING", ""))
    for part in query.split("&")[:64]:
        name, _, value = part.partition("=")
        if name == QUERY_PARAMETER:
            return unquote_plus(value)
    return None


def mint(secret: str, *, sub: str, ttl_seconds: float, rooms: Iterable[str] = (),
         publish: Iterable[str] = (), close: Iterable[str] = (), broadcast: bool = False,
         presence: Iterable[str] = (), audience: str | None = None, issuer: str | None = None,
         now: float | None = None) -> str:
    """An HS256 token (what an application's login view mints; ``pushsvc token`` uses it)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": sub, "iat": issued, "nbf": issued, "exp": issued + int(ttl_seconds),
        PERMISSIONS_CLAIM: Permissions(join=tuple(rooms), publish=tuple(publish),
                                       close=tuple(close), broadcast=broadcast,
                                       presence=tuple(presence)).as_claim(),
    }
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


# --------------------------------------------------------------------------- sessions


class Sessions:
    """The Principal of each connection on this process, its user's sessions, and expiries.

    Expiries sit in a heap of ``(expires_at, sid)``; a refresh pushes a new entry and the old
    one is skipped when it comes up. The heap is rebuilt when stale entries outnumber live
    ones, so it stays within twice the number of connections (plus a constant).
    """

    def __init__(self) -> None:
        self._by_sid: dict[str, Principal] = {}
        self._by_sub: dict[str, set[str]] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def add(self, sid: str, principal: Principal) -> None:
        with self._lock:
            old = self._by_sid.get(sid)
            if old is not None and old.sub != principal.sub:
                self._drop_sub(sid, old.sub)
            self._by_sid[sid] = principal
            self._by_sub.setdefault(principal.sub, set()).add(sid)
            if principal.expires_at is not None:
                heapq.heappush(self._expiries, (principal.expires_at, sid))
                if len(self._expiries) > 2 * len(self._by_sid) + 1024:
                    self._rebuild()

    def remove(self, sid: str) -> None:
        with self._lock:
            principal = self._by_sid.pop(sid, None)
            if principal is not None:
                self._drop_sub(sid, principal.sub)

    def _drop_sub(self, sid: str, sub: str) -> None:
        sids = self._by_sub.get(sub)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._by_sub[sub]

    def _rebuild(self) -> None:
        self._expiries = [(p.expires_at, sid) for sid, p in self._by_sid.items()
                          if p.expires_at is not None]
        heapq.heapify(self._expiries)

    def principal(self, sid: str) -> Principal | None:
        return self._by_sid.get(sid)

    def sids_of(self, sub: str) -> list[str]:
        """Session ids of ``sub``'s connections on this process."""
        with self._lock:
            return sorted(self._by_sub.get(sub, ()))

    def users(self) -> list[str]:
        with self._lock:
            return sorted(self._by_sub)

    def __len__(self) -> int:
        return len(self._by_sid)

    def expired(self, now: float, leeway: float) -> list[str]:
        """Pop and return the sids whose current token expired before ``now - leeway``."""
        out = []
        with self._lock:
            while self._expiries and self._expiries[0][0] + leeway <= now:
                exp, sid = heapq.heappop(self._expiries)
                principal = self._by_sid.get(sid)
                if principal is not None and principal.expires_at == exp:
                    out.append(sid)
        return out

    def stale_heap_entries(self) -> int:
        return len(self._expiries) - sum(
            1 for p in self._by_sid.values() if p.expires_at is not None)


def sweep_interval(settings: Settings) -> float:
    return max(0.05, settings.jwt_expiry_sweep_seconds)


def describe(settings: Settings, authenticator: Authenticator) -> str:
    """One start-up line about the JWT configuration, without any key material."""
    source = ("secret" + (" (and the previous one, being rotated out)"
                          if settings.jwt_secret_previous else "") if settings.jwt_secret else
              f"public key file {settings.jwt_public_key_file}" if settings.jwt_public_key_file
              else f"JWKS file {settings.jwt_jwks_file}")
    return (f"JWT connect authentication: {source}, algorithms {','.join(authenticator.algorithms)}"
            f", token {'required' if settings.jwt_required else 'optional'}, leeway "
            f"{settings.jwt_leeway_seconds:g} s, audience "
            f"{'checked' if settings.jwt_audience else 'not checked'}, issuer "
            f"{'checked' if settings.jwt_issuer else 'not checked'}")


_TOKEN_IN_TEXT = re.compile(r"([?&]" + QUERY_PARAMETER + r"=)[^&\s\"']*")
#: Loggers that write request lines (with their query strings): gevent-websocket's handler,
#: which pushsvc's worker uses for every request, gunicorn's access log, and gevent's server
#: errors (a malformed request line is quoted; pushsvc.worker logs them).
REQUEST_LOGGERS = ("geventwebsocket.handler", "gunicorn.access", "gevent.pywsgi")


class RedactTokens(logging.Filter):
    """Replace ``token=...`` in request lines: a client that cannot send ``auth`` puts its
    JWT in the query string, and access logs print the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and QUERY_PARAMETER + "=" in record.msg:
            record.msg = _TOKEN_IN_TEXT.sub(r"\1REDACTED", record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(v) for v in record.args)
        return True


def _redact_value(value: Any) -> Any:
    if isinstance(value, str) and QUERY_PARAMETER + "=" in value:
        return _TOKEN_IN_TEXT.sub(r"\1REDACTED", value)
    return value


def install_log_redaction() -> None:
    """Put :class:`RedactTokens` on the request loggers (once; init_app calls it)."""
    for name in REQUEST_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())


# --------------------------------------------------------------------------- per app

#: Key of the Identity in ``app.extensions``; use :func:`identity_of`.
EXTENSION_KEY = "pushsvc.identity"
DEMO_TOKEN_PATH = "/pushsvc-demo/token"
DEMO_TOKEN_TTL_SECONDS = 3600
DEMO_TOKEN_MIN_TTL_SECONDS = 4  # ``?ttl=`` lets the page show a refresh within seconds
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


def register_demo_tokens(app: Any, settings: Settings) -> None:
    """Development only (PUSHSVC_DEMO_TOKENS): ``GET /pushsvc-demo/token?sub=NAME[&ttl=S]``
    answers ``{"token"}`` for any name, allowed every room, broadcast and the presence of
    every room (the demo page shows its rooms'), for an hour (or ``ttl`` seconds, 4 to
    3600)."""
    if not settings.demo_tokens or settings.jwt_secret is None:
        return
    from flask import jsonify, request

    secret = settings.jwt_secret.get_secret_value()

    def demo_token() -> Any:
        sub = str(request.args.get("sub", "")).strip()[:64] or "demo-user"
        try:
            ttl = float(request.args.get("ttl", DEMO_TOKEN_TTL_SECONDS))
        except ValueError:
            ttl = DEMO_TOKEN_TTL_SECONDS
        ttl = min(max(ttl, DEMO_TOKEN_MIN_TTL_SECONDS), DEMO_TOKEN_TTL_SECONDS)
        token = mint(secret, sub=sub, ttl_seconds=ttl, rooms=["*"],
                     publish=["*"], close=["*"], broadcast=True, presence=["*"],
                     audience=settings.jwt_audience, issuer=settings.jwt_issuer)
        response = jsonify({"token": token, "sub": sub})
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_url_rule(DEMO_TOKEN_PATH, "pushsvc_demo_token", demo_token, methods=["GET"])
    logger.warning("demo tokens are ON (PUSHSVC_DEMO_TOKENS): anyone who reaches %s can mint "
                   "a token for any user; never turn this on in production", DEMO_TOKEN_PATH)
