"""Rooms an app's own connect handler joins are part of the session, and decided again.

They used to be missing from the session's snapshot (it did not exist yet when the handler
ran), so a recovery on another pod replayed nothing sent to them while the client was away:
a partial recovery. Now they are in the snapshot from the connect on; at a recovery the
connect handler runs again and decides: a room it joins again comes back with what it
missed, one it no longer joins is not restored. Two gunicorn pods serving
tests/recovery/connect_app.py on the emulated Kubernetes bus, Node socket.io-client 4.x.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pushsvc.testing.procs import (
    PushsvcProcess,
    free_port,
    http_get,
    pushsvc_env,
    spawn,
    wait_until,
)
from pushsvc.testing.topology import BUS_NAMESPACE, LocalTopology
from tests.deploy.conftest import TEST_POD_ENV
from tests.deploy.recovery import RECOVERY_ENV, NodeClient, notify_numbered
from tests.recovery.conftest import Observers, texts
from tests.support.pushsvc_proc import REPO_ROOT, WORKER_CLASS


@pytest.fixture(scope="module")
def app_pods(topology: LocalTopology) -> Iterator[list[PushsvcProcess]]:
    assert topology.api_kubeconfig is not None
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    pods: list[PushsvcProcess] = []
    try:
        for k in range(2):
            port = free_port()
            env = {**TEST_POD_ENV, **RECOVERY_ENV, "PUSHSVC_AUTH_MODE": "none",
                   "PUSHSVC_BUS": "kubernetes",
                   "PUSHSVC_KUBECONFIG": str(topology.api_kubeconfig),
                   "PUSHSVC_BUS_NAMESPACE": BUS_NAMESPACE,
                   "PUSHSVC_POD_NAMESPACE": BUS_NAMESPACE, "PUSHSVC_POD_NAME": f"app-{k}"}
            log_path = topology.workdir / "logs" / f"connect-app-{k}.log"
            popen = spawn([gunicorn, "-k", WORKER_CLASS, "-w", "1",
                           "--no-control-socket", "--graceful-timeout", "3", "-b",
                           f"127.0.0.1:{port}", "tests.recovery.connect_app:app"],
                          log_path=log_path, env=pushsvc_env("127.0.0.1", port, env),
                          cwd=REPO_ROOT)
            pod = PushsvcProcess(popen=popen, host="127.0.0.1", port=port, log_path=log_path)
            pods.append(pod)
            wait_until(lambda u=pod.url: '"watch_up":true' in (
                http_get(f"{u}/internal/health") or (0, ""))[1].replace(" ", ""),
                timeout=60, what="the app pod's bus watch")
        yield pods
    finally:
        for pod in pods:
            pod.stop()


def _cut_off_at_the_first_pod(app_pods: list[PushsvcProcess], desk: str,
                              node_client: Callable[..., NodeClient],
                              observers: Observers) -> tuple[NodeClient, dict[str, object]]:
    for pod in app_pods:
        observers.watch(pod.url)
    tab = node_client(app_pods[0].url, desk)
    first = tab.wait_for("connect")
    observers.recorded(str(first["pid"]), "at connect", lambda r: r["s"] == "up")
    tab.send("drop")
    tab.wait_for("disconnect")
    observers.recorded(str(first["pid"]), "after the cut", lambda r: r["s"] == "down")
    return tab, first


def test_what_was_sent_to_the_connect_handlers_rooms_while_away_is_replayed_elsewhere(
    topology: LocalTopology, app_pods: list[PushsvcProcess],
    node_client: Callable[..., NodeClient], observers: Observers,
) -> None:
    tab, first = _cut_off_at_the_first_pod(app_pods, "ann", node_client, observers)
    lobby = notify_numbered(topology, "lobby while away", 3, room="lobby")
    desk = notify_numbered(topology, "desk while away", 2, room="desk-ann")

    tab.send(f"url {app_pods[1].url}")
    tab.send("reconnect")
    again = tab.wait_for("connect")
    assert again["recovered"] is True and again["sid"] == first["sid"]
    live = notify_numbered(topology, "desk live", 1, room="desk-ann")
    tab.wait_for("msg", data=live[-1])
    assert texts(tab, "lobby while away") == lobby
    assert texts(tab, "desk while away") == desk


def test_a_room_the_connect_handler_no_longer_joins_is_not_restored(
    topology: LocalTopology, app_pods: list[PushsvcProcess],
    node_client: Callable[..., NodeClient], observers: Observers,
) -> None:
    tab, first = _cut_off_at_the_first_pod(app_pods, "bea", node_client, observers)
    notify_numbered(topology, "old desk while away", 2, room="desk-bea")
    lobby = notify_numbered(topology, "lobby while away", 2, room="lobby")

    tab.send("token cid")  # the handler now puts it at another desk
    tab.send(f"url {app_pods[1].url}")
    tab.send("reconnect")
    again = tab.wait_for("connect")
    assert again["recovered"] is True and again["sid"] == first["sid"]
    notify_numbered(topology, "old desk live", 1, room="desk-bea")
    live = notify_numbered(topology, "new desk live", 1, room="desk-cid")
    tab.wait_for("msg", data=live[-1])
    assert texts(tab, "lobby while away") == lobby
    assert texts(tab, "old desk") == []
