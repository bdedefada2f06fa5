"""Connection state recovery (socket.io-client 4.x), three pods behind HAProxy on the Events bus.

A Node client's pod is SIGKILLed while 100 numbered notifications go out; the client
reconnects through HAProxy to another pod and gets exactly those 100, in order, each once,
with ``recovered === true`` and its sid — over WebSocket and over long-polling. The same for
the demo page in Chromium, which says "recovered". A client that had no offset recovers too;
past the window, or with a guessed pid, it gets a new session; clients 3.0.3 and 4.x still run
the whole demo protocol with recovery on.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushsvc.testing.procs import console_script, wait_until
from pushsvc.testing.topology import LocalTopology
from tests.deploy.conftest import TEST_POD_ENV, require_tool
from tests.deploy.recovery import RECOVERY_ENV, NodeClient, notify_numbered
from tests.support.pushsvc_proc import REPO_ROOT

NODE = shutil.which("node") or "node"
#: Short, so the "too late" test is short; long enough for a loaded machine's other tests.
WINDOW_SECONDS = 15.0
BROWSER = Path(__file__).with_name("browser_recovery.js")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    require_tool("haproxy")
    workdir = tmp_path_factory.mktemp("recovery")
    with LocalTopology(workdir, bus="kubernetes",
                       pod_env={**TEST_POD_ENV, **RECOVERY_ENV,
                                "PUSHSVC_RECOVERY_WINDOW_SECONDS": str(WINDOW_SECONDS)},
                       ) as topology:
        yield topology


@pytest.fixture
def clients() -> Iterator[list[NodeClient]]:
    started: list[NodeClient] = []
    yield started
    for client in started:
        client.close()


def _connected_client(topology: LocalTopology, clients: list[NodeClient], transport: str,
                      **kwargs: object) -> tuple[NodeClient, dict[str, object], int]:
    client = NodeClient(NODE, topology.url, transport=transport, **kwargs)  # type: ignore[arg-type]
    clients.append(client)
    connect = client.wait_for("connect")
    pod = client.wait_for("pod")["pod"]
    index = [topology.pod_name(i) for i in range(len(topology.pods))].index(pod)
    return client, connect, index


def _wait_down(topology: LocalTopology, victim: int) -> None:
    """Until HAProxy takes the stopped pod out, so the client reconnects to another one."""
    name = topology.server_names[victim]
    wait_until(lambda: topology.server_states()[name].status.startswith("DOWN"),
               timeout=30, what=f"HAProxy to mark {name} DOWN")


def _live(topology: LocalTopology, client: NodeClient, prefix: str, count: int) -> None:
    texts = notify_numbered(topology, prefix, count)
    client.wait_for("msg", data=texts[-1])


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_client_whose_pod_is_killed_gets_exactly_the_100_missed_messages_on_another_pod(
    topology: LocalTopology, clients: list[NodeClient], transport: str
) -> None:
    client, first, victim = _connected_client(topology, clients, transport)
    assert first["recovered"] is False
    _live(topology, client, f"{transport} before", 5)

    topology.pods[victim].stop(signal.SIGKILL, timeout=10)
    client.wait_for("disconnect")
    missed = notify_numbered(topology, f"{transport} missed", 100)
    _wait_down(topology, victim)
    try:
        client.send("reconnect")
        again = client.wait_for("connect")
        pod = client.wait_for("pod")["pod"]
        client.drain(quiet=0.5)

        assert again["recovered"] is True
        assert again["sid"] == first["sid"]
        assert pod != topology.pod_name(victim)
        got = client.messages(f"{transport} missed")
        assert [m["data"] for m in got] == missed  # all 100, in order, each once
        # Replayed ahead of the CONNECT reply: the client emits them before its "connect".
        assert all(client.lines.index(m) < client.lines.index(again) for m in got)
        assert all(m["args"] == 1 for m in got)  # the offset, as the last argument
        assert [m["data"] for m in client.messages(f"{transport} before")] == [
            f"{transport} before #{i}" for i in range(1, 6)]
        _live(topology, client, f"{transport} after", 3)  # live delivery resumed
        assert len(client.messages(f"{transport} after")) == 3
    finally:
        topology.restart_pod(victim)


def test_a_client_that_received_no_offset_recovers_from_where_it_connected(
    topology: LocalTopology, clients: list[NodeClient]
) -> None:
    client, first, _ = _connected_client(topology, clients, "websocket")
    client.send("forget-offset")  # as a client that got no message before the cut (#4888)
    client.send("drop")
    client.wait_for("disconnect")
    missed = notify_numbered(topology, "no offset", 100)
    client.send("reconnect")
    again = client.wait_for("connect")
    client.drain(quiet=0.5)
    assert again["recovered"] is True and again["sid"] == first["sid"]
    assert [m["data"] for m in client.messages("no offset")] == missed


def test_a_drained_pods_goodbye_arrives_before_the_close_and_is_not_replayed_after(
    topology: LocalTopology, clients: list[NodeClient]
) -> None:
    client, first, victim = _connected_client(topology, clients, "websocket")
    _live(topology, client, "drain before", 2)
    topology.pods[victim].stop(signal.SIGTERM, timeout=30)  # the drain tells, then closes
    closed = client.wait_for("disconnect")
    _wait_down(topology, victim)
    try:
        client.send("reconnect")
        again = client.wait_for("connect")
        client.drain(quiet=0.5)
        assert again["recovered"] is True and again["sid"] == first["sid"]
        goodbyes = client.messages("server shutting down")
        # Written to the socket before the close, never an Event: not replayed on recovery.
        assert len(goodbyes) == 1
        assert client.lines.index(goodbyes[0]) < client.lines.index(closed)
    finally:
        topology.restart_pod(victim)


def test_past_the_window_the_client_gets_a_new_session(
    topology: LocalTopology, clients: list[NodeClient]
) -> None:
    client, first, _ = _connected_client(topology, clients, "websocket")
    _live(topology, client, "late before", 2)
    client.send("drop")
    client.wait_for("disconnect")
    notify_numbered(topology, "late missed", 5)
    time.sleep(WINDOW_SECONDS + 2)  # a moment more for the disconnect's snapshot
    client.send("reconnect")
    again = client.wait_for("connect")
    client.drain(quiet=0.5)
    assert again["recovered"] is False
    assert again["sid"] != first["sid"]
    assert client.messages("late missed") == []


def test_knowing_the_sid_without_the_pid_cannot_take_over_a_session(
    topology: LocalTopology, clients: list[NodeClient]
) -> None:
    victim, first, _ = _connected_client(topology, clients, "websocket")
    victim.send("drop")
    victim.wait_for("disconnect")
    notify_numbered(topology, "private", 3)

    thief = NodeClient(NODE, topology.url, transport="websocket", manual=True)
    clients.append(thief)
    thief.send(f"pid {secrets.token_urlsafe(18)}")
    thief.send("reconnect")
    stolen = thief.wait_for("connect")
    thief.drain(quiet=0.5)
    assert stolen["recovered"] is False and stolen["sid"] != first["sid"]
    assert thief.messages("private") == []

    victim.send("reconnect")  # the failed attempt did not spend the session
    again = victim.wait_for("connect")
    victim.drain(quiet=0.5)
    assert again["recovered"] is True and again["sid"] == first["sid"]
    assert [m["data"] for m in victim.messages("private")] == [f"private #{i}" for i in
                                                                 (1, 2, 3)]


@pytest.mark.parametrize(("package", "major"),
                         [("socket.io-client", "4."), ("socket.io-client-3", "3.0.3")])
def test_every_demo_event_still_works_with_recovery_on_for_clients_3_and_4(
    topology: LocalTopology, package: str, major: str
) -> None:
    # 3.0.3 ignores the pid and passes the offset as one more handler argument: a
    # (msg) => handler never sees it.
    result = subprocess.run(
        [NODE, str(REPO_ROOT / "tests" / "js" / "protocol_client.js"), topology.pods[0].url,
         package, "websocket"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["version"].startswith(major)


@pytest.mark.browser
def test_the_demo_page_in_chromium_shows_recovered_with_every_missed_message(
    topology: LocalTopology, artifacts_dir: Path
) -> None:
    names = [topology.pod_name(i) for i in range(len(topology.pods))]
    config = {
        "url": topology.url,
        "chromium": require_tool("chromium"),
        "pids": {name: pod.pid for name, pod in zip(names, topology.pods, strict=True)},
        "notify": {"cmd": console_script("pushsvc-notify"), "env": topology.notifier_env()},
        "shots": str(artifacts_dir),
    }
    done = subprocess.run([require_tool("node"), str(BROWSER), json.dumps(config)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=150,
                          check=False)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    result = json.loads(lines[-1])
    try:
        assert done.returncode == 0 and result["ok"], result.get("failure") or done.stderr
        assert result["sessionBefore"] == "new session"
        assert result["sessionAfter"] == "recovered"
        assert result["sidAfter"] == result["sidBefore"]
        assert result["podAfter"] != result["podBefore"]
        assert result["missed"] == [f"browser missed #{i}" for i in range(1, 101)]
        assert "Reconnected: recovered" in result["notices"]
    finally:
        victim = names.index(result["podBefore"]) if result.get("podBefore") in names else None
        if victim is not None:
            topology.restart_pod(victim)
