"""Tokens: the :class:`Authenticator` that checks a connect's or a refresh's JWT, where the
token is found (``auth`` or ``?token=``), and :func:`mint` for an application's login view.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import jwt

from pushsvc import metrics
from pushsvc.identity.keys import Keys
from pushsvc.identity.principal import (
    PERMISSIONS_CLAIM,
    AuthRefused,
    Permissions,
    Principal,
    principal_from,
)

if TYPE_CHECKING:
    from pushsvc.settings import Settings

#: Query-string parameter carrying the token for clients that cannot send ``auth``.
QUERY_PARAMETER = "token"
MAX_TOKEN_CHARS = 8192


class Authenticator:
    """Checks a connect's token (a plain function of the auth payload and the environ, so a
    reconnect that restores a session can run the same check) and refresh tokens.

    :param settings: the JWT settings (``PUSHSVC_JWT_*``).
    """

    def __init__(self, settings: Settings) -> None:
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        previous = (settings.jwt_secret_previous.get_secret_value()
                    if settings.jwt_secret_previous else None)
        self._keys = Keys(secret=secret, pem_file=settings.jwt_public_key_file,
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
