"""JWT mode: every refusal reason reaches the client as a connect_error code, counted per
reason; good tokens connect through the auth payload and the query string, with the
python-socketio client and Node socket.io-client 3.0.3 and 4.x; no token or secret is
logged."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import socketio

from tests.server.conftest import NODE
from tests.support import PushsvcProcess, RecordingClient, start_pushsvc
from tests.support.probes import metric
from tests.support.pushsvc_proc import REPO_ROOT
from tests.support.tokens import SECRET, Tokens, assert_never_logged, jwt_env

DRIVER = REPO_ROOT / "tests" / "js" / "token_client.js"
Clients = Callable[..., RecordingClient]
TOKENS = Tokens()


@pytest.fixture(scope="module")
def jwt_server(server_logs: Path) -> Iterator[PushsvcProcess]:
    with start_pushsvc(env=jwt_env(), log_dir=server_logs) as proc:
        yield proc


def _bad_tokens() -> dict[str, str]:
    return {
        "token_expired": TOKENS.mint("alice", ttl=-60),
        "token_invalid": TOKENS.mint("alice", key="another-secret-" + "x" * 40),
        "token_audience": TOKENS.mint("alice", aud="someone-else"),
        "token_issuer": TOKENS.mint("alice", iss="https://evil.example"),
        "token_not_yet_valid": TOKENS.mint("alice", nbf=int(time.time()) + 600),
    }


def _refusal(client: RecordingClient, url: str, **connect: object) -> dict[str, object]:
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, **connect)  # type: ignore[arg-type]
    [error] = client.received("connect_error")
    assert isinstance(error, dict)
    return error


def test_a_connect_without_a_token_is_refused_with_token_missing(
    jwt_server: PushsvcProcess, clients: Clients
) -> None:
    before = metric(jwt_server.url, "pushsvc_refused_connections_total", reason="token_missing")
    error = _refusal(clients(), jwt_server.url)
    assert error["message"] == "token_missing"
    assert error["data"]["code"] == "token_missing"  # type: ignore[index]
    after = metric(jwt_server.url, "pushsvc_refused_connections_total", reason="token_missing")
    assert after == before + 1


@pytest.mark.parametrize("code", ["token_expired", "token_invalid", "token_audience",
                                  "token_issuer", "token_not_yet_valid"])
def test_each_bad_token_is_refused_with_its_reason_and_counted(
    jwt_server: PushsvcProcess, clients: Clients, code: str
) -> None:
    token = _bad_tokens()[code]
    before = metric(jwt_server.url, "pushsvc_refused_connections_total", reason=code)
    assert _refusal(clients(), jwt_server.url, auth={"token": token})["message"] == code
    assert metric(jwt_server.url, "pushsvc_refused_connections_total", reason=code) == before + 1


@pytest.mark.parametrize("token", ["", "not.a.jwt", 42, "x" * 9000])
def test_garbage_in_the_token_field_is_token_invalid(
    jwt_server: PushsvcProcess, clients: Clients, token: object
) -> None:
    assert _refusal(clients(), jwt_server.url, auth={"token": token})["message"] == "token_invalid"


def test_a_token_without_sub_or_exp_is_invalid(jwt_server: PushsvcProcess, clients: Clients
                                               ) -> None:
    for token in (TOKENS.mint(None), TOKENS.mint("alice", exp=None)):
        error = _refusal(clients(), jwt_server.url, auth={"token": token})
        assert error["message"] == "token_invalid"


def test_a_good_token_connects_through_auth_and_through_the_query_string(
    jwt_server: PushsvcProcess, clients: Clients
) -> None:
    by_auth = clients().connect(jwt_server.url, auth={"token": TOKENS.mint("alice")})
    by_auth.wait_for_reply("Connected")
    by_query = clients(transports=["polling"]).connect(
        f"{jwt_server.url}/?token={TOKENS.mint('bob')}")
    by_query.wait_for_reply("Connected")
    # python-socketio's own connect path ran the check: refusals left no session behind.
    assert by_auth.connected and by_query.connected


@pytest.mark.parametrize(("package", "major", "via"), [
    ("socket.io-client", "4.", "auth"),
    ("socket.io-client", "4.", "query"),
    ("socket.io-client-3", "3.0.3", "query"),
    ("socket.io-client-3", "3.0.3", "auth"),
])
def test_node_clients_3_and_4_get_the_same_answers(
    jwt_server: PushsvcProcess, transport: str, package: str, major: str, via: str
) -> None:
    bad = _bad_tokens()
    cases = [{"token": TOKENS.mint("carol"), "via": via}, {"token": "", "via": "none"}]
    cases += [{"token": token, "via": via} for token in bad.values()]
    done = subprocess.run([NODE, str(DRIVER), jwt_server.url, package, transport,
                           json.dumps(cases)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["version"].startswith(major)
    first, missing, *refused = report["results"]
    assert first == {"connected": True, "reply": "Connected"}
    assert missing["message"] == "token_missing"
    assert [r["message"] for r in refused] == list(bad)
    assert [r["code"] for r in refused] == list(bad)


def test_no_token_or_secret_is_in_any_log(jwt_server: PushsvcProcess, clients: Clients,
                                          server_logs: Path) -> None:
    # Traffic of its own first, so the check holds whatever order the tests ran in.
    clients(transports=["polling"]).connect(
        f"{jwt_server.url}/?token={TOKENS.mint('dave')}").wait_for_reply("Connected")
    _refusal(clients(), jwt_server.url, auth={"token": _bad_tokens()["token_expired"]})
    assert "refused connection" in jwt_server.read_log()
    read = assert_never_logged(server_logs.glob("*.log"), [SECRET, *TOKENS.minted])
    assert read >= 1
