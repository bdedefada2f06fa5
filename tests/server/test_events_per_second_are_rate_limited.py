"""Events per second per client: a burst passes, the rest is refused, a hammerer is cut off.

The refill rate here is tiny so that the count is exact: the first BURST events pass,
every later one is refused (code ``rate_limited``, ack and ``error`` event), and after
DISCONNECT_AFTER refusals the client is disconnected with a reason. Before the fix,
nothing limited a client's event rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until
from tests.support.probes import metric

BURST = 5
#: Refusals that disconnect: the larger of the burst and 5 s of the rate, within 10 s.
DISCONNECT_AFTER = BURST
Clients = Callable[..., RecordingClient]


@pytest.fixture(scope="module")
def limited(server_logs: Path) -> Iterator[PushsvcProcess]:
    env = {
        "PUSHSVC_CLIENT_EVENTS_PER_SECOND": "0.001",
        "PUSHSVC_CLIENT_EVENTS_BURST": str(BURST),
    }
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        yield proc




def test_a_burst_passes_and_the_next_events_are_refused_and_dropped(
    limited: PushsvcProcess, clients: Clients, transport: str
) -> None:
    client = clients(transports=[transport]).connect(limited.url)
    acks = [client.call("my_event", {"data": f"m{n}"}) for n in range(BURST + 3)]
    assert acks[:BURST] == [{"ok": True}] * BURST
    for ack in acks[BURST:]:
        assert ack["ok"] is False and ack["code"] == "rate_limited"
        assert "events per second" in ack["reason"]
    assert client.wait_for("error")["code"] == "rate_limited"
    wait_until(lambda: len([d for d in client.replies() if str(d).startswith("m")]) == BURST,
               what="the burst's echoes")
    assert f"m{BURST}" not in client.replies()  # a refused message is dropped
    assert client.connected


def test_a_client_that_keeps_hammering_is_disconnected_with_a_reason(
    limited: PushsvcProcess, clients: Clients
) -> None:
    hammer = clients(transports=["websocket"]).connect(limited.url)
    bystander = clients(transports=["websocket"]).connect(limited.url)
    sid = hammer.sio.get_sid()
    before = metric(limited.url, "pushsvc_client_disconnects_total", reason="rate_limited")
    for n in range(BURST + DISCONNECT_AFTER + 10):
        if not hammer.connected:
            break
        hammer.emit("my_event", {"data": f"hammer-payload-{n}"})
    wait_until(lambda: not hammer.connected, what="the hammering client disconnected")
    reasons = [e for e in hammer.received("error") if e["code"] == "rate_limited_disconnect"]
    assert len(reasons) == 1 and f"{DISCONNECT_AFTER} messages refused" in reasons[0]["reason"]
    assert metric(limited.url, "pushsvc_client_disconnects_total",
                  reason="rate_limited") == before + 1
    assert metric(limited.url, "pushsvc_rejected_messages_total", code="rate_limited") >= (
        DISCONNECT_AFTER)
    log = limited.read_log()
    assert len([line for line in log.splitlines()
                if sid in line and "rate_limited" in line]) == 1
    assert "hammer-payload" not in log  # never the payload
    # The bystander has its own budget.
    assert bystander.call("my_event", {"data": "still here"}) == {"ok": True}
    bystander.wait_for_reply("still here")
