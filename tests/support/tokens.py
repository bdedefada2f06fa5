"""Tokens for the identity tests: minted with PyJWT, every one remembered, and a check that
none of them (nor the secret) appears in any log file."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt

SECRET = "test-secret-" + "k" * 40
AUDIENCE = "pushsvc-tests"
ISSUER = "https://login.example.test"


def jwt_env(**extra: str) -> dict[str, str]:
    """A pod's settings for JWT mode with the tests' secret, audience and issuer."""
    return {
        "PUSHSVC_AUTH_MODE": "jwt",
        "PUSHSVC_JWT_SECRET": SECRET,
        "PUSHSVC_JWT_AUDIENCE": AUDIENCE,
        "PUSHSVC_JWT_ISSUER": ISSUER,
        "PUSHSVC_JWT_LEEWAY_SECONDS": "0",
        **extra,
    }


class Tokens:
    """Mints tokens (``tokens.mint("alice", rooms=["job-*"])``) and keeps each one."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.minted: list[str] = []

    def mint(self, sub: str | None = "alice", *, ttl: float = 600, key: Any = None,
             algorithm: str = "HS256", headers: dict[str, Any] | None = None,
             **claims: Any) -> str:
        """A token for ``sub``; ``rooms``/``publish``/``close``/``broadcast`` go in the
        ``pushsvc`` claim; any other keyword is a claim (``aud=None`` drops it)."""
        now = time.time()
        body: dict[str, Any] = {"iat": int(now), "exp": now + ttl, "aud": AUDIENCE,
                                "iss": ISSUER}
        if sub is not None:
            body["sub"] = sub
        perms = {k: claims.pop(k) for k in ("rooms", "publish", "close", "broadcast")
                 if k in claims}
        if perms:
            body["pushsvc"] = perms
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        token = jwt.encode(body, key if key is not None else self.secret,
                           algorithm=algorithm, headers=headers)
        self.minted.append(token)
        return token


def assert_never_logged(log_files: Iterable[Path], secrets: Iterable[str]) -> int:
    """No secret (token, key) in any of ``log_files``; returns how many files were read."""
    wanted = [s for s in secrets if s]
    read = 0
    for path in log_files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        read += 1
        for secret in wanted:
            # The signature part alone is enough to leak nothing usable; look for both.
            for piece in {secret, secret.rsplit(".", 1)[-1]}:
                assert piece not in text, f"a token or secret appears in {path}"
    return read
