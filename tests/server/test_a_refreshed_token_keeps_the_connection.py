"""JWT mode: a connection whose token runs out is disconnected with reason token_expired; a
client that sends a fresh token for the same user (``pushsvc_refresh {token}``) before then
keeps its connection; a refresh for another user or with a bad token is refused and changes
nothing. With python-socketio and Node socket.io-client 3.0.3 and 4.x
(tests/js/token_session.js)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest

from tests.server.conftest import NODE
from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until
from tests.support.probes import metric
from tests.support.pushsvc_proc import REPO_ROOT
from tests.support.tokens import Tokens, jwt_env

Clients = Callable[..., RecordingClient]
TOKENS = Tokens()
SHORT_S = 2.0
DRIVER = REPO_ROOT / "tests" / "js" / "token_session.js"


@pytest.fixture(scope="module")
def jwt_server(server_logs: Path) -> Iterator[PushsvcProcess]:
    with start_pushsvc(env=jwt_env(PUSHSVC_PING_INTERVAL_SECONDS="3"),
                       log_dir=server_logs) as proc:
        yield proc


def _connect(clients: Clients, url: str, sub: str, ttl: float) -> RecordingClient:
    client = clients().connect(url, auth={"token": TOKENS.mint(sub, ttl=ttl)})
    client.wait_for_reply("Connected")
    return client


def _expired(client: RecordingClient) -> bool:
    errors = client.received("error")
    return not client.connected and any(e.get("code") == "token_expired" for e in errors)


def test_an_expired_token_disconnects_and_a_refreshed_one_keeps_the_connection(
    jwt_server: PushsvcProcess, clients: Clients
) -> None:
    before = metric(jwt_server.url, "pushsvc_client_disconnects_total", reason="token_expired")
    refreshed = _connect(clients, jwt_server.url, "alice", SHORT_S)
    ack = refreshed.call("pushsvc_refresh", {"token": TOKENS.mint("alice", ttl=600)})
    assert ack["ok"] is True and ack["exp"] > 0
    # Minted after alice's first token, so once it has expired alice's first one has too.
    lapsing = _connect(clients, jwt_server.url, "bob", SHORT_S)
    wait_until(lambda: _expired(lapsing), timeout=SHORT_S + 10, what="bob's token to expire")
    assert lapsing.disconnect_reasons
    assert refreshed.connected
    refreshed.call("my_event", {"data": "still here"})
    refreshed.wait_for_reply("still here")
    after = metric(jwt_server.url, "pushsvc_client_disconnects_total", reason="token_expired")
    assert after == before + 1
    assert metric(jwt_server.url, "pushsvc_token_refreshes_total", result="ok") >= 1


@pytest.mark.parametrize(("token", "code"), [
    (lambda: TOKENS.mint("mallory", ttl=600), "token_subject"),
    (lambda: TOKENS.mint("carol", ttl=-5), "token_expired"),
    (lambda: "garbage", "token_invalid"),
    (lambda: TOKENS.mint("carol", key="another-secret-" + "y" * 40), "token_invalid"),
])
def test_a_bad_refresh_is_refused_and_the_connection_stays(
    jwt_server: PushsvcProcess, clients: Clients, token: Callable[[], str], code: str
) -> None:
    client = _connect(clients, jwt_server.url, "carol", 600)
    ack = client.call("pushsvc_refresh", {"token": token()})
    assert ack["ok"] is False and ack["code"] == code
    assert client.wait_for("error")["code"] == code
    assert client.call("my_event", {"data": "kept"}) == {"ok": True}
    assert client.connected


def test_a_refresh_for_another_user_does_not_extend_the_connection(
    jwt_server: PushsvcProcess, clients: Clients
) -> None:
    client = _connect(clients, jwt_server.url, "dora", SHORT_S)
    assert client.call("pushsvc_refresh", {"token": TOKENS.mint("eve", ttl=600)})["ok"] is False
    wait_until(lambda: _expired(client), timeout=SHORT_S + 10, what="dora's token to expire")


@pytest.mark.parametrize(("package", "major"), [("socket.io-client", "4."),
                                                ("socket.io-client-3", "3.0.3")])
def test_node_clients_refresh_keep_the_connection_and_expire_without(
    jwt_server: PushsvcProcess, package: str, major: str
) -> None:
    short = TOKENS.mint("alice", ttl=SHORT_S, rooms=["job-*"])
    lapsing = TOKENS.mint("bob", ttl=SHORT_S)
    # bob's token was minted after alice's first one: it expires no earlier.
    expires_at = jwt.decode(short, options={"verify_signature": False})["exp"]
    tokens = {"short": short, "lapsing": lapsing, "expiresAt": expires_at,
              "fresh": TOKENS.mint("alice", ttl=600, rooms=["job-*"])}
    done = subprocess.run([NODE, str(DRIVER), jwt_server.url, package, "websocket",
                           json.dumps(tokens)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["version"].startswith(major)
    assert report["steps"][-2:] == ["expired disconnects", "refreshed connection kept"]
