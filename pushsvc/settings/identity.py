"""Identity: how a connect is authenticated (none, one shared token, signed JWTs)."""

from __future__ import annotations

import os
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from pushsvc.settings._section import Section, split_commas

#: How often one background task disconnects connections whose token expired (a JWT's
#: ``exp`` is in seconds).
JWT_EXPIRY_SWEEP_SECONDS = 1.0


class IdentitySettings(Section):
    """Connect authentication: the mode, the shared token, the JWT keys and claims."""

    title: ClassVar[str] = "Identity"

    auth_token: SecretStr | None = Field(
        default=None,
        description="If set, clients must connect with auth {token: ...} equal to this "
        "(PUSHSVC_AUTH_MODE auto or token). Must not be empty. Never logged, hidden in repr.",
    )
    auth_mode: Literal["auto", "none", "token", "jwt"] = Field(
        default="auto",
        description="Connect authentication: 'none'; 'token' (every client sends "
        "PUSHSVC_AUTH_TOKEN); 'jwt' (signed tokens, PUSHSVC_JWT_*: user rooms and room "
        "permissions from claims); 'auto' = token when PUSHSVC_AUTH_TOKEN is set, else none.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="JWT mode: HS256 shared secret (32+ characters) the application signs "
        "tokens with. Never logged. One of this, jwt_public_key_file or jwt_jwks_file.",
    )
    jwt_secret_previous: SecretStr | None = Field(
        default=None,
        description="JWT mode, while rotating jwt_secret: the secret tokens were signed with "
        "before it (32+ characters). Tokens signed with it still verify; it never signs. "
        "Remove it once no token signed with it can be unexpired. Never logged.",
    )
    jwt_public_key_file: str | None = Field(
        default=None,
        description="JWT mode: PEM file with the RSA or EC public key (RS256/ES256), e.g. "
        "mounted from a Secret; re-read when it changes.",
    )
    jwt_jwks_file: str | None = Field(
        default=None,
        description="JWT mode: JWKS file (keys picked by 'kid'), e.g. mounted from a "
        "ConfigMap; re-read when it changes. Never fetched over the network.",
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated accepted algorithms. Empty = by key: HS256 for a secret, "
        "RS256 or ES256 for a PEM key, the JWKS keys' own. 'none' is refused.",
    )
    jwt_audience: str | None = Field(
        default=None, description="JWT mode: required 'aud' (unset = not checked)."
    )
    jwt_issuer: str | None = Field(
        default=None, description="JWT mode: required 'iss' (unset = not checked)."
    )
    jwt_leeway_seconds: float = Field(
        default=30.0, ge=0, le=300,
        description="Clock skew allowed on exp, nbf and iat, in seconds.",
    )
    jwt_required: bool = Field(
        default=True,
        description="JWT mode: refuse connects without a token (connect_error token_missing). "
        "false = such clients connect anonymously (no user room, no room permissions); a "
        "bad token is always refused.",
    )
    jwt_require_exp: bool = Field(
        default=True,
        description="JWT mode: refuse tokens without 'exp' (a token that never expires "
        "cannot be revoked by not refreshing it). Expired connections are swept every second.",
    )
    demo_tokens: bool = Field(
        default=False,
        description="Development only: GET /pushsvc-demo/token?sub=NAME mints a token "
        "(every room, broadcast, presence) from jwt_secret for the demo page. Needs demo_page and "
        "jwt_secret; refused in a Kubernetes pod. `pushsvc demo` turns it on.",
    )

    @property
    def effective_auth_mode(self) -> Literal["none", "token", "jwt"]:
        if self.auth_mode == "auto":
            return "token" if self.auth_token is not None else "none"
        return self.auth_mode

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        return split_commas(value)

    @model_validator(mode="after")
    def _check_identity(self) -> Self:
        if self.auth_token is not None and not self.auth_token.get_secret_value():
            raise ValueError(
                "PUSHSVC_AUTH_TOKEN is set but empty, which would let a client in with an "
                "empty token: set a token, or unset the variable to allow every client"
            )
        mode = self.effective_auth_mode
        if mode == "token" and self.auth_token is None:
            raise ValueError("PUSHSVC_AUTH_MODE=token needs PUSHSVC_AUTH_TOKEN")
        if mode != "token" and self.auth_token is not None:
            raise ValueError(f"PUSHSVC_AUTH_TOKEN is set but PUSHSVC_AUTH_MODE={mode} would "
                             "ignore it: unset one of them")
        if any(a.lower() == "none" for a in self.jwt_algorithms):
            raise ValueError("'none' in PUSHSVC_JWT_ALGORITHMS would accept unsigned tokens")
        sources = [self.jwt_secret, self.jwt_public_key_file, self.jwt_jwks_file]
        if mode == "jwt" and sum(s is not None for s in sources) != 1:
            raise ValueError("PUSHSVC_AUTH_MODE=jwt needs exactly one of PUSHSVC_JWT_SECRET, "
                             "PUSHSVC_JWT_PUBLIC_KEY_FILE, PUSHSVC_JWT_JWKS_FILE")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("PUSHSVC_JWT_SECRET must be at least 32 characters (HS256 "
                             "needs a 256-bit key)")
        if self.jwt_secret_previous is not None:
            previous = self.jwt_secret_previous.get_secret_value()
            if self.jwt_secret is None:
                raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS needs PUSHSVC_JWT_SECRET (the "
                                 "secret that signs now; a JWKS rotates by 'kid' instead)")
            if len(previous) < 32:
                raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS must be at least 32 characters")
            if previous == self.jwt_secret.get_secret_value():
                raise ValueError("PUSHSVC_JWT_SECRET_PREVIOUS is the same as "
                                 "PUSHSVC_JWT_SECRET: unset it, or set the old secret")
        if self.demo_tokens and os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise ValueError("PUSHSVC_DEMO_TOKENS lets anyone mint tokens: it is refused "
                             "in a Kubernetes pod")
        return self

    @property
    def jwt_expiry_sweep_seconds(self) -> float:
        """The expiry sweep's period (:data:`JWT_EXPIRY_SWEEP_SECONDS`)."""
        return JWT_EXPIRY_SWEEP_SECONDS
