"""pushsvc.identity without a server: RS256/ES256 public keys from a PEM file, a JWKS file
picked by ``kid``, both re-read when the file changes; the algorithm of a token never picks
the key type; the per-process session registry and its expiry heap stay bounded."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pushsvc import identity
from pushsvc.identity import Authenticator, AuthRefused, Principal, Sessions
from pushsvc.settings import Settings


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _token(key: object, algorithm: str, sub: str = "alice", **headers: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 60}, key, algorithm=algorithm,
                      headers=headers or None)


def _rewrite(path: Path, text: str) -> None:
    stamp = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))


@pytest.fixture(autouse=True)
def _check_files_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity.keys, "KEY_FILE_CHECK_SECONDS", 0.0)


@pytest.mark.parametrize(("make", "algorithm"), [
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
    (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
])
def test_a_pem_public_key_verifies_and_is_reread_when_the_file_changes(
    tmp_path: Path, make, algorithm: str
) -> None:
    first, second = make(), make()
    pem = tmp_path / "key.pem"
    pem.write_text(_pem(first))
    auth = Authenticator(Settings(auth_mode="jwt", jwt_public_key_file=str(pem)))
    assert auth.algorithms == [algorithm]
    assert auth.verify(_token(first, algorithm)).sub == "alice"
    with pytest.raises(AuthRefused) as refused:
        auth.verify(_token(second, algorithm))
    assert refused.value.code == "token_invalid"
    _rewrite(pem, _pem(second))  # the Secret was rotated
    assert auth.verify(_token(second, algorithm)).sub == "alice"


def test_an_hs256_token_signed_with_the_public_key_text_is_refused(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_text(_pem(key))
    auth = Authenticator(Settings(auth_mode="jwt", jwt_public_key_file=str(pem)))
    forged = jwt.api_jws.PyJWS().encode(
        json.dumps({"sub": "root", "exp": int(time.time()) + 60}).encode(), b"x" * 32,
        algorithm="HS256")
    with pytest.raises(AuthRefused):
        auth.verify(forged)


def test_a_jwks_file_picks_the_key_by_kid_and_follows_rotation(tmp_path: Path) -> None:
    old, new = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))

    def jwks(*pairs: tuple[str, ec.EllipticCurvePrivateKey]) -> str:
        keys = []
        for kid, key in pairs:
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})
        return json.dumps({"keys": keys})

    path = tmp_path / "jwks.json"
    path.write_text(jwks(("old", old)))
    auth = Authenticator(Settings(auth_mode="jwt", jwt_jwks_file=str(path)))
    assert auth.verify(_token(old, "ES256", kid="old")).sub == "alice"
    with pytest.raises(AuthRefused, match="key id"):
        auth.verify(_token(new, "ES256", kid="new"))
    _rewrite(path, jwks(("old", old), ("new", new)))
    assert auth.verify(_token(new, "ES256", kid="new")).sub == "alice"
    _rewrite(path, "{not json")  # a broken update keeps the keys that worked
    assert auth.verify(_token(new, "ES256", kid="new")).sub == "alice"


@pytest.mark.parametrize("env", [
    {"auth_mode": "jwt"},
    {"auth_mode": "jwt", "jwt_secret": "short"},
    {"auth_mode": "jwt", "jwt_secret": "s" * 40, "jwt_algorithms": "none"},
    {"auth_mode": "jwt", "jwt_secret": "s" * 40, "jwt_jwks_file": "/x.json"},
    {"demo_tokens": True},
    {"auth_mode": "none", "auth_token": "shared-token"},
    {"auth_mode": "token"},
])
def test_incomplete_or_unsafe_jwt_settings_refuse_to_start(env: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Settings(**env)  # type: ignore[arg-type]


def test_sessions_list_a_users_connections_and_pop_only_current_expiries() -> None:
    sessions = Sessions()
    sessions.add("a1", Principal(sub="alice", expires_at=100.0))
    sessions.add("a2", Principal(sub="alice", expires_at=200.0))
    sessions.add("b1", Principal(sub="bob", expires_at=100.0))
    assert sessions.sids_of("alice") == ["a1", "a2"]
    sessions.add("a1", Principal(sub="alice", expires_at=300.0))  # refreshed
    assert sessions.expired(150.0, leeway=0) == ["b1"]
    sessions.remove("b1")
    assert sessions.users() == ["alice"]
    assert sessions.expired(250.0, leeway=0) == ["a2"]
    assert sessions.expired(250.0, leeway=100) == []


def test_refreshes_never_grow_the_expiry_heap_past_its_bound() -> None:
    sessions = Sessions()
    for n in range(10):
        sessions.add(f"s{n}", Principal(sub="u", expires_at=1000.0))
    for n in range(20_000):  # one client refreshing over and over
        sessions.add("s0", Principal(sub="u", expires_at=1000.0 + n))
    assert sessions.stale_heap_entries() <= 2 * len(sessions) + 1024
