"""The Admin UI's traffic charts: its ``server_stats`` reports count the packets and bytes a
pod received and sent, over WebSocket and long-polling (python-socketio gathers them from
python-engineio's socket class; pushsvc's engine reports them itself)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import socketio

from tests.admin.conftest import ADMIN_ENV
from tests.support import PushsvcProcess, RecordingClient, wait_until

LOGIN = {"username": ADMIN_ENV["PUSHSVC_ADMIN_UI_USERNAME"],
         "password": ADMIN_ENV["PUSHSVC_ADMIN_UI_PASSWORD"]}
PAYLOAD = "x" * 20_000


class Stats:
    """An admin on /admin that adds up the aggregated events of every server_stats."""

    def __init__(self, url: str) -> None:
        self.totals: dict[str, int] = {}
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("server_stats", self._stats, namespace="/admin")
        self.sio.connect(url, namespaces=["/admin"], auth=LOGIN, transports=["websocket"],
                         wait_timeout=5)

    def _stats(self, stats: dict[str, Any]) -> None:
        with self._lock:
            for event in stats.get("aggregatedEvents", []):
                self.totals[event["type"]] = self.totals.get(event["type"], 0) + event["count"]

    def total(self, kind: str) -> int:
        with self._lock:
            return self.totals.get(kind, 0)

    def close(self) -> None:
        self.sio.disconnect()
        self.sio.shutdown()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_server_stats_count_the_packets_and_bytes_of_a_clients_messages(
    admin_server: PushsvcProcess, transport: str
) -> None:
    admin = Stats(admin_server.url)
    client = RecordingClient(transports=[transport])
    try:
        client.connect(admin_server.url).wait_for_reply("Connected")
        for i in range(3):
            client.call("my_event", {"data": f"{i}{PAYLOAD}"})
            client.wait_for_reply(f"{i}{PAYLOAD}")
        # Each 20 KB message came in once and went out once (its echo), besides the rest.
        assert wait_until(lambda: admin.total("bytesIn") >= 3 * len(PAYLOAD)
                          and admin.total("bytesOut") >= 3 * len(PAYLOAD),
                          timeout=15, what="server_stats to count the bytes")
        assert admin.total("packetsIn") >= 3 and admin.total("packetsOut") >= 3
    finally:
        client.close()
        admin.close()
