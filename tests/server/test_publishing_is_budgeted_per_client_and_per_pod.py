"""Client messages that become bus Events are budgeted per client and per pod.

my_broadcast_event, my_room_event and close_room each publish an Event (an etcd write that
lives for the Event TTL). Before the fix one client wrote 18 MB into etcd in 7 s. The refill
rates here are tiny so that counts are exact: a bucket's burst passes, the next message is
refused with ``publish_rate_limited`` and never delivered. A message bucket holds 5 s of its
rate, at least one message: with these rates, one; a byte bucket two (per client) or eight
(per pod) of the largest messages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc
from tests.support.probes import metric

Clients = Callable[..., RecordingClient]
SLOW = "0.001"  # tokens per second: no refill during a test




def _refused(proc: PushsvcProcess, scope: str, unit: str) -> float:
    return metric(proc.url, "pushsvc_publish_refused_total", scope=scope, unit=unit)


def test_one_client_gets_its_burst_of_messages_then_publish_rate_limited(
    server_logs: Path, clients: Clients
) -> None:
    env = {"PUSHSVC_PUBLISH_CLIENT_MESSAGES_PER_SECOND": SLOW}  # a burst of one message
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        a = clients(transports=["websocket"]).connect(proc.url)
        b = clients(transports=["websocket"]).connect(proc.url)
        a.call("join", {"room": "budget-room"})
        b.call("join", {"room": "budget-room"})
        assert a.call("my_room_event", {"room": "budget-room", "data": "r1"}) == {"ok": True}
        for event, message in (("my_broadcast_event", {"data": "refused-b"}),
                               ("my_room_event", {"room": "budget-room", "data": "refused-r"})):
            ack = a.call(event, message)
            assert ack["ok"] is False and ack["code"] == "publish_rate_limited"
            assert "your publishing budget (messages" in ack["reason"]
        assert a.wait_for("error")["code"] == "publish_rate_limited"
        # Another client has a budget of its own; what a sent before the refusal arrived.
        assert b.call("my_broadcast_event", {"data": "from b"}) == {"ok": True}
        b.wait_for_reply("from b")
        assert "r1" in b.replies()
        assert "refused-b" not in b.replies() and "refused-r" not in b.replies()
        assert _refused(proc, "client", "messages") == 2
        # Echo and joins are not publishing: a keeps them.
        assert a.call("my_event", {"data": "echo"}) == {"ok": True}
        sid = a.sio.get_sid()
        assert len([line for line in proc.read_log().splitlines()
                    if sid in line and "publish_rate_limited" in line]) == 1


def test_all_clients_of_a_pod_share_the_pods_budget(server_logs: Path, clients: Clients
                                                     ) -> None:
    env = {"PUSHSVC_PUBLISH_POD_MESSAGES_PER_SECOND": SLOW}  # a burst of one message
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        a, c = (clients(transports=["websocket"]).connect(proc.url) for _ in range(2))
        assert a.call("my_broadcast_event", {"data": "x"}) == {"ok": True}
        # c has its own client budget untouched: the pod's is what refuses it.
        ack = c.call("my_broadcast_event", {"data": "pod is over"})
        assert ack["code"] == "publish_rate_limited"
        assert "this server's publishing budget (messages" in ack["reason"]
        assert _refused(proc, "pod", "messages") == 1
        assert _refused(proc, "client", "messages") == 0


def test_bytes_are_budgeted_too(server_logs: Path, clients: Clients) -> None:
    # The client's byte bucket: 2 x 1024 bytes, refilled at 1 B/s.
    env = {"PUSHSVC_MAX_MESSAGE_BYTES": "1024", "PUSHSVC_PUBLISH_CLIENT_BYTES_PER_SECOND": "1"}
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        a = clients(transports=["websocket"]).connect(proc.url)
        text = "y" * 900
        assert a.call("my_broadcast_event", {"data": text}) == {"ok": True}
        assert a.call("my_broadcast_event", {"data": text}) == {"ok": True}
        ack = a.call("my_broadcast_event", {"data": text})
        assert ack["code"] == "publish_rate_limited" and "(bytes per second)" in ack["reason"]
        # A small message still fits in what is left.
        assert a.call("my_broadcast_event", {"data": "small"}) == {"ok": True}
        assert _refused(proc, "client", "bytes") == 1
