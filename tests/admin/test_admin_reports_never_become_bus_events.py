"""What the instrumentation sends to admins (statistics every 2 s, every socket's connect and
events) is about this pod: on the Kubernetes bus none of it becomes an Event."""

from __future__ import annotations

import threading
from typing import Any

import socketio

from tests.admin.conftest import ADMIN_ENV
from tests.support import RecordingClient, start_pushsvc, wait_until
from tests.support.pushsvc_proc import REPO_ROOT

RBAC = "\n---\n".join((REPO_ROOT / "rbac" / f).read_text() for f in ("api.yaml", "notifier.yaml"))


def test_admin_reports_stay_on_the_pod(kubeapi, tmp_path):
    kubeapi.set_rbac(RBAC)
    env = {**ADMIN_ENV, "PUSHSVC_BUS": "kubernetes", "PUSHSVC_BUS_NAMESPACE": "pushsvc",
           "PUSHSVC_KUBECONFIG": str(kubeapi.kubeconfig_for("pushsvc", "pushsvc-api"))}
    with start_pushsvc(env=env, log_dir=tmp_path / "logs") as pod:
        wait_until(lambda: kubeapi.stats()["open_watches"] >= 1, what="the pod's watch")
        seen: dict[str, int] = {}
        lock = threading.Lock()

        def count(event: str, *args: Any) -> None:
            with lock:
                seen[event] = seen.get(event, 0) + 1

        admin = socketio.Client(reconnection=False)
        admin.on("*", count, namespace="/admin")
        admin.connect(pod.url, namespaces=["/admin"], transports=["websocket"],
                      auth={"username": ADMIN_ENV["PUSHSVC_ADMIN_UI_USERNAME"],
                            "password": ADMIN_ENV["PUSHSVC_ADMIN_UI_PASSWORD"]})
        try:
            creates = kubeapi.stats()["creates"]
            with RecordingClient(transports=["websocket"]).connect(pod.url) as client:
                client.wait_for_reply("Connected")
                client.emit("my_event", {"data": "echo"})
                client.wait_for_reply("echo")
                wait_until(lambda: seen.get("event_sent", 0) >= 2
                           and seen.get("server_stats", 0) >= 2,
                           what="the admin seeing the echo and two stats reports")
            assert kubeapi.stats()["creates"] == creates
        finally:
            admin.disconnect()
            admin.shutdown()
