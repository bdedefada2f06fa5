"""Per-user delivery through HAProxy: alice has two tabs on two different pods (chosen by the
SERVERID cookie), bob and carol one each; ``pushsvc-notify --user alice`` reaches both of
alice's tabs and nobody else — with python-socketio clients, and with Chromium on the demo
page, each tab minting its own demo token (one refreshing a 4-second token over its
connection, which outlives it). The pods run in JWT mode; no token or secret
appears in any log of the topology (pods and HAProxy, whose access log redacts
``?token=``). Screenshots: artifacts/deploy/token-tab-*.png."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pushsvc.testing.procs import console_script
from pushsvc.testing.topology import LocalTopology, run_notifier
from tests.deploy.conftest import REPO_ROOT, TEST_POD_ENV, require_tool
from tests.support import RecordingClient
from tests.support.tokens import SECRET, Tokens, assert_never_logged, jwt_env

TOKENS = Tokens()
BROWSER_TOKENS = Path(__file__).with_name("browser_tokens.js")


@pytest.fixture(scope="module")
def jwt_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    require_tool("haproxy")
    workdir = tmp_path_factory.mktemp("topology-jwt")
    with LocalTopology(workdir, bus="kubernetes", pods=2,
                       pod_env={**TEST_POD_ENV, **jwt_env(PUSHSVC_DEMO_TOKENS="true")}
                       ) as topology:
        yield topology


@pytest.fixture
def tabs() -> Iterator[list[RecordingClient]]:
    made: list[RecordingClient] = []
    yield made
    for client in made:
        client.close()


def _tab(topology: LocalTopology, made: list[RecordingClient], sub: str, pod: int,
         transport: str = "websocket") -> RecordingClient:
    """A client of ``sub`` on pod ``pod`` (cookie s1 → pod 0, s2 → pod 1) through HAProxy."""
    token = TOKENS.mint(sub)
    if transport == "polling":  # as JS client 3.x or the classic page would: in the query
        session = requests.Session()  # python-engineio sends extra headers on the handshake
        session.cookies.set("SERVERID", f"s{pod + 1}")  # only; a cookie jar goes every time
        client = RecordingClient(transports=[transport], http_session=session)
        made.append(client)
        client.connect(f"{topology.url}/?token={token}")
    else:
        client = RecordingClient(transports=[transport])
        made.append(client)
        client.connect(topology.url, auth={"token": token},
                       headers={"Cookie": f"SERVERID=s{pod + 1}"})
    info = client.wait_for("pushsvc_info")
    assert info["pod"] == topology.pod_name(pod)
    return client


def test_notify_user_reaches_every_tab_of_that_user_on_every_pod_and_nobody_else(
    jwt_topology: LocalTopology, tabs: list[RecordingClient]
) -> None:
    alice = [_tab(jwt_topology, tabs, "alice", 0), _tab(jwt_topology, tabs, "alice", 1)]
    others = [_tab(jwt_topology, tabs, "bob", 0), _tab(jwt_topology, tabs, "carol", 1)]
    env = jwt_topology.notifier_env()
    run_notifier(env, ["--event", "nuke_response", "--data",
                       json.dumps({"data": "report ready for alice"}), "--user", "alice"])
    for tab in alice:
        tab.wait_for_reply("report ready for alice")
    # A later message to everyone, through the same bus: once it has arrived, the user's
    # message would have too.
    run_notifier(env, ["--event", "nuke_response", "--data", json.dumps({"data": "to all"})])
    for tab in alice + others:
        tab.wait_for_reply("to all")
    for tab in others:
        assert "report ready for alice" not in tab.replies()
    # A client can never join another user's room itself.
    ack = others[0].call("join", {"room": "user:alice"})
    assert ack["ok"] is False and ack["code"] == "bad_room"


@pytest.mark.browser
def test_browser_tabs_mint_their_tokens_and_alices_tabs_on_two_pods_get_her_message(
    jwt_topology: LocalTopology, artifacts_dir: Path
) -> None:
    notify = [console_script("pushsvc-notify"), "--event", "nuke_response", "--data"]
    env = jwt_topology.notifier_env()
    expired = TOKENS.mint("alice", ttl=-60)
    config = {
        "url": jwt_topology.url,
        "chromium": require_tool("chromium"),
        "tabs": [{"user": "alice", "cookie": "s1"}, {"user": "alice", "cookie": "s2"},
                 {"user": "bob", "cookie": "s1"}],
        "notifyUser": {"cmd": [*notify, json.dumps({"data": "for alice only"}), "--user",
                               "alice"], "env": env},
        "notifyAll": {"cmd": [*notify, json.dumps({"data": "to every tab"})], "env": env},
        "expiredToken": expired,
        "shots": str(artifacts_dir),
    }
    done = subprocess.run([require_tool("node"), str(BROWSER_TOKENS), json.dumps(config)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=150,
                          check=False)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    result = json.loads(lines[-1])
    assert done.returncode == 0 and result.get("ok"), result.get("failure") or done.stderr
    assert result["errors"] == []
    alice_a, alice_b, bob = result["tabs"]
    assert [t["user"] for t in result["tabs"]] == ["alice", "alice", "bob"]
    assert all(t["token"] for t in result["tabs"])
    TOKENS.minted.extend(t["token"] for t in result["tabs"])  # the log check looks for them
    assert {alice_a["pod"], alice_b["pod"]} == {jwt_topology.pod_name(0),
                                                jwt_topology.pod_name(1)}
    assert "for alice only" in alice_a["log"] and "for alice only" in alice_b["log"]
    assert "for alice only" not in bob["log"]
    assert "Connection error: token_expired" in result["expiredLog"]
    # The 4-second token was refreshed over the connection, which outlived it.
    assert result["shortStatus"] == "connected"
    assert "token_expired" not in result["shortLog"] and "Disconnected" not in result["shortLog"]


def test_no_token_or_secret_is_in_any_log_of_the_topology(
    jwt_topology: LocalTopology, tabs: list[RecordingClient]
) -> None:
    _tab(jwt_topology, tabs, "erin", 0, transport="polling")
    _tab(jwt_topology, tabs, "frank", 1, transport="polling").call("my_event", {"data": "x"})
    haproxy_log = jwt_topology.haproxy_log()
    assert "token=REDACTED" in haproxy_log
    logs = [*jwt_topology.workdir.rglob("*.log")]
    read = assert_never_logged(logs, [SECRET, *TOKENS.minted])
    assert read >= 3  # two pods, HAProxy (and the emulator)
