"""``push_topology`` in a user's suite: N real pods on the Events bus, with or without HAProxy.

A user's test connects Socket.IO clients to the pods (directly, or through HAProxy with the
shipped config), sends a notification the way their Job would, and sees it on every pod;
each client learns its pod from the ``pushsvc_info`` event that follows the connect.
"""

from __future__ import annotations

import shutil

import pytest

from tests.toolkit.conftest import UserSuite

pytestmark = pytest.mark.topology  # the user's suite starts its pods

USER_TESTS = '''
import pytest
import socketio

from pushsvc.testing import wait_until


def connect(url, got):
    client = socketio.Client(reconnection=False)
    client.on("nuke_response", lambda data: got.append(data["data"]))
    client.on("pushsvc_info", lambda info: got.append(info["pod"]))
    client.connect(url, transports=["websocket"], wait_timeout=10)
    return client


@pytest.mark.push_topology(pods=2, haproxy=False)
def test_a_notification_reaches_clients_on_every_pod(push_topology):
    got = [[], []]
    clients = [connect(pod.url, got[i]) for i, pod in enumerate(push_topology.pods)]
    try:
        wait_until(lambda: all(len(g) >= 2 for g in got), timeout=10, what="connected")
        push_topology.notify(event="nuke_response", data='{"data": "from a job"}')
        wait_until(lambda: all("from a job" in g for g in got), timeout=20, what="delivery")
    finally:
        for client in clients:
            client.disconnect()
    assert [g[1] for g in got] == ["pushsvc-node1", "pushsvc-node2"]


@pytest.mark.push_topology(pods=2, pod_env={"PUSHSVC_REPLY_EVENT": "nuke_response"})
def test_through_haproxy_a_client_lands_on_one_of_the_pods(push_topology):
    got = []
    client = connect(push_topology.url, got)
    try:
        wait_until(lambda: len(got) >= 2, timeout=10, what="connected")
    finally:
        client.disconnect()
    assert got[1] in {push_topology.pod_name(0), push_topology.pod_name(1)}
'''


def test_a_users_suite_runs_against_two_pods_directly_and_behind_haproxy(
    user_suite: UserSuite,
) -> None:
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed; run ./scripts/setup.sh --all")
    done = user_suite({"test_pods.py": USER_TESTS})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
