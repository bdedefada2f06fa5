"""The ``*_SECRET_PREVIOUS`` settings: checked at start, verify only what the current secret
did not sign, and never sign (the pods-side proof is in tests/bus/test_rotating_*)."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from pushsvc.identity import Authenticator, AuthRefused, mint
from pushsvc.settings import Settings

OLD = "o" * 40
NEW = "n" * 40


def _settings(**extra: object) -> Settings:
    return Settings(auth_mode="jwt", jwt_secret=NEW, **extra)  # type: ignore[arg-type]


def test_a_token_signed_with_the_previous_secret_verifies_and_an_unknown_one_does_not() -> None:
    auth = Authenticator(_settings(jwt_secret_previous=OLD))
    assert auth.verify(mint(OLD, sub="alice", ttl_seconds=60)).sub == "alice"
    assert auth.verify(mint(NEW, sub="bob", ttl_seconds=60)).sub == "bob"
    with pytest.raises(AuthRefused) as refused:
        auth.verify(mint("x" * 40, sub="eve", ttl_seconds=60))
    assert refused.value.code == "token_invalid"


def test_an_expired_token_of_the_previous_secret_is_still_token_expired() -> None:
    auth = Authenticator(_settings(jwt_secret_previous=OLD))
    old = mint(OLD, sub="alice", ttl_seconds=1, now=time.time() - 120)
    with pytest.raises(AuthRefused) as refused:
        auth.verify(old)
    assert refused.value.code == "token_expired"


def test_without_the_previous_secret_an_old_token_is_token_invalid() -> None:
    with pytest.raises(AuthRefused) as refused:
        Authenticator(_settings()).verify(mint(OLD, sub="alice", ttl_seconds=60))
    assert refused.value.code == "token_invalid"


@pytest.mark.parametrize(("settings", "message"), [
    ({"auth_mode": "jwt", "jwt_secret": NEW, "jwt_secret_previous": "short"},
     "PUSHSVC_JWT_SECRET_PREVIOUS must be at least 32"),
    ({"auth_mode": "jwt", "jwt_secret": NEW, "jwt_secret_previous": NEW}, "is the same as"),
    ({"auth_mode": "jwt", "jwt_jwks_file": "/nonexistent.json", "jwt_secret_previous": OLD},
     "needs PUSHSVC_JWT_SECRET"),
    ({"recovery_enabled": True, "recovery_secret": "k" * 16,
      "recovery_secret_previous": "short"}, "PUSHSVC_RECOVERY_SECRET_PREVIOUS must be at least"),
    ({"recovery_enabled": True, "recovery_secret": "k" * 16,
      "recovery_secret_previous": "k" * 16}, "is the same as"),
    ({"recovery_secret_previous": "k" * 16}, "needs PUSHSVC_RECOVERY_SECRET"),
])
def test_a_bad_previous_secret_stops_the_start_with_the_reason(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**settings)  # type: ignore[arg-type]
