"""JWT mode: the ``pushsvc`` claim decides which rooms a client may join (names and ``job-*``
prefixes), publish to and close, and whether it may broadcast; without the claim a client may
do none of it (its own user room still works). Refusals are ``forbidden`` and nothing is
published. ``pushsvc token`` mints a development token with such claims."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc
from tests.support.pushsvc_proc import pushsvc_executable
from tests.support.tokens import AUDIENCE, ISSUER, SECRET, Tokens, jwt_env

Clients = Callable[..., RecordingClient]
TOKENS = Tokens()


@pytest.fixture(scope="module")
def claims_server(server_logs: Path) -> Iterator[PushsvcProcess]:
    env = jwt_env(PUSHSVC_PING_INTERVAL_SECONDS="3")
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        yield proc


def _user(clients: Clients, url: str, sub: str, **claims: object) -> RecordingClient:
    client = clients().connect(url, auth={"token": TOKENS.mint(sub, **claims)})
    client.wait_for_reply("Connected")
    return client


def _forbidden(client: RecordingClient, event: str, message: dict[str, object]) -> None:
    ack = client.call(event, message)
    assert ack["ok"] is False and ack["code"] == "forbidden", ack


def test_without_claims_a_client_joins_broadcasts_and_closes_nothing(
    claims_server: PushsvcProcess, clients: Clients
) -> None:
    plain = _user(clients, claims_server.url, "nobody")
    listener = _user(clients, claims_server.url, "listener", broadcast=False)
    _forbidden(plain, "join", {"room": "lobby"})
    _forbidden(plain, "my_broadcast_event", {"data": "hello all"})
    assert plain.wait_for("error")["code"] == "forbidden"
    listener.call("my_event", {"data": "marker"})
    listener.wait_for_reply("marker")
    assert "hello all" not in listener.replies()
    # Echo and the rest of the demo protocol that reaches nobody else still work.
    assert plain.call("my_event", {"data": "echo"}) == {"ok": True}


def test_room_patterns_allow_exact_names_and_prefixes_only(
    claims_server: PushsvcProcess, clients: Clients
) -> None:
    client = _user(clients, claims_server.url, "alice", rooms=["job-*", "finance"])
    assert client.call("join", {"room": "job-7"}) == {"ok": True}
    assert client.call("join", {"room": "finance"}) == {"ok": True}
    client.wait_for_reply("In rooms: finance, job-7, user:alice")
    for room in ("financial", "fin", "jobs", "other"):
        _forbidden(client, "join", {"room": room})


def test_publishing_to_a_room_needs_the_publish_claim(
    claims_server: PushsvcProcess, clients: Clients
) -> None:
    sender = _user(clients, claims_server.url, "sender", rooms=["job-*", "finance"],
                   publish=["job-*"])
    reader = _user(clients, claims_server.url, "reader", rooms=["*"])
    for room in ("job-9", "finance"):
        sender.call("join", {"room": room})
        reader.call("join", {"room": room})
    assert sender.call("my_room_event", {"room": "job-9", "data": "job news"}) == {"ok": True}
    reader.wait_for_reply("job news")
    _forbidden(sender, "my_room_event", {"room": "finance", "data": "finance news"})
    assert reader.call("my_room_event", {"room": "job-9", "data": "reader may not"})[
        "code"] == "forbidden"
    reader.call("my_event", {"data": "marker"})
    reader.wait_for_reply("marker")
    assert "finance news" not in reader.replies()


def test_broadcast_and_close_need_their_claims(claims_server: PushsvcProcess, clients: Clients
                                               ) -> None:
    admin = _user(clients, claims_server.url, "admin", rooms=["job-*"], close=["job-*"],
                  broadcast=True)
    member = _user(clients, claims_server.url, "member", rooms=["job-*"])
    admin.call("join", {"room": "job-1"})
    member.call("join", {"room": "job-1"})
    _forbidden(member, "close_room", {"room": "job-1"})
    assert admin.call("my_broadcast_event", {"data": "from admin"}) == {"ok": True}
    member.wait_for_reply("from admin")
    assert admin.call("close_room", {"room": "job-1"}) == {"ok": True}
    member.wait_for_reply("Room job-1 is closing.")


def test_the_user_room_is_joined_at_connect_and_never_by_a_client(
    claims_server: PushsvcProcess, clients: Clients
) -> None:
    client = _user(clients, claims_server.url, "zoe", rooms=["*"])
    ack = client.call("join", {"room": "user:bob"})
    assert ack["code"] == "bad_room"
    client.call("join", {"room": "anything"})
    client.wait_for_reply("In rooms: anything, user:zoe")


def test_pushsvc_token_mints_a_development_token_with_the_rooms_asked_for(
    claims_server: PushsvcProcess, clients: Clients
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    done = subprocess.run(
        [str(pushsvc_executable()), "token", "--sub", "alice", "--rooms", "job-*", "--ttl", "1h"],
        env={**env, **jwt_env()}, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    TOKENS.minted.append(token)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == "alice" and 3590 <= claims["exp"] - claims["iat"] <= 3600
    client = clients().connect(claims_server.url, auth={"token": token})
    assert client.call("join", {"room": "job-3"}) == {"ok": True}
    _forbidden(client, "join", {"room": "finance"})
    _forbidden(client, "my_broadcast_event", {"data": "no"})


def test_pushsvc_token_without_a_secret_says_what_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    done = subprocess.run([str(pushsvc_executable()), "token", "--sub", "alice"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "PUSHSVC_JWT_SECRET is not set" in done.stderr
