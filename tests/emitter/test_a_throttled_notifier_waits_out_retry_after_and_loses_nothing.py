"""A notifier throttled by API Priority and Fairness waits out each Retry-After and loses
nothing.

The emulator limits the notifier's ServiceAccount to 5 requests/s (burst 5): every create
past that gets APF's 429 with ``Retry-After``. Numbered notifications from ``Emitter.notify``
and from a batching Emitter (two messages per Event, so it is throttled too) reach a real
client on a real pod exactly once, in order; so do those of twelve ``pushsvc-notify``
processes started at once, throttled at 2/s (in any order). The emulator saw no request
repeated before its Retry-After ran out. A 429 whose Retry-After ends past the retry deadline
is not retried early at the deadline: the notifier gives up at once, saying why.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from emitter import ApiUnavailableError
from emitter.kube import Backoff, call_with_retries
from pushsvc.testing.kubeapi import serviceaccount_user
from tests.emitter.conftest import NAMESPACE, Bus
from tests.support import PushsvcProcess, RecordingClient, wait_until

NOTIFIER = serviceaccount_user(NAMESPACE, "pushsvc-notifier")
COUNT = 30


def _numbers(client: RecordingClient, tag: str) -> list[int]:
    return [p["n"] for p in client.received("seq") if isinstance(p, dict) and p.get("tag") == tag]


def _cli(bus: Bus, *args: str) -> list[str]:
    exe = Path(sys.executable).parent / "pushsvc-notify"
    return [str(exe), "--namespace", NAMESPACE, "--kubeconfig", str(bus.notifier_kubeconfig),
            *args]


def _notify_cli(bus: Bus, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cli(bus, *args), capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize("how", ["notify", "batched"])
def test_numbered_notifications_throttled_at_5_per_second_arrive_once_each_in_order(
    bus: Bus, bus_pod: PushsvcProcess, how: str,
) -> None:
    client = RecordingClient(transports=["websocket"]).connect(bus_pod.url)
    try:
        bus.api.rate_limit(NOTIFIER, 5, burst=5)
        options = {"batch_window_seconds": 0.005, "max_messages_per_event": 2} \
            if how == "batched" else {}
        with bus.emitter(**options) as em:
            for n in range(COUNT):
                em.notify("seq", {"tag": how, "n": n})
        assert em.retries.get("throttled", 0) > 0
        stats = bus.api.apf_stats()[NOTIFIER]
        assert stats["throttled"] > 0
        assert stats["early_retries"] == 0
        wait_until(lambda: len(_numbers(client, how)) >= COUNT, timeout=60,
                   what=f"{COUNT} numbered notifications at the client")
        client.sio.sleep(0.5)  # a late duplicate would arrive now
        assert _numbers(client, how) == list(range(COUNT))
    finally:
        client.close()


def test_pushsvc_notify_processes_started_at_once_wait_their_turn_and_all_arrive(
    bus: Bus, bus_pod: PushsvcProcess,
) -> None:
    client = RecordingClient(transports=["websocket"]).connect(bus_pod.url)
    try:
        bus.api.rate_limit(NOTIFIER, 2, burst=2)  # below the pace of 12 starting processes
        procs = [subprocess.Popen(_cli(bus, "--deadline", "90", "--event", "seq", "--data",
                                       f'{{"tag": "cli", "n": {n}}}'),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for n in range(12)]
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0, out
        stats = bus.api.apf_stats()[NOTIFIER]
        assert stats["allowed"] == 12 and stats["throttled"] > 0
        assert stats["early_retries"] == 0
        wait_until(lambda: len(_numbers(client, "cli")) >= 12, timeout=60,
                   what="12 notifications at the client")
        client.sio.sleep(0.5)
        assert sorted(_numbers(client, "cli")) == list(range(12))
    finally:
        client.close()


def test_a_retry_after_past_the_deadline_gives_up_at_once_instead_of_retrying_early(
    bus: Bus,
) -> None:
    bus.api.rate_limit(NOTIFIER, 0.01, burst=1, retry_after=5)
    assert _notify_cli(bus, "--event", "first").returncode == 0
    result = _notify_cli(bus, "--event", "second", "--deadline", "2")
    stats = bus.api.apf_stats()[NOTIFIER]
    assert (stats["throttled"], stats["early_retries"]) == (1, 0)
    assert result.returncode != 0
    assert "asked to retry in 5 s, past the deadline" in result.stderr


def test_call_with_retries_waits_each_retry_after_and_never_sleeps_past_the_deadline() -> None:
    now = [0.0]
    sleeps: list[float] = []
    waits: list[tuple[str, float]] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def throttled() -> None:
        exc = ApiException(status=429, reason="Too Many Requests")
        exc.headers = {"Retry-After": "4"}
        raise exc

    with pytest.raises(ApiUnavailableError, match="past the deadline"):
        call_with_retries(throttled, what="create", deadline_seconds=10, sleep=sleep,
                          clock=lambda: now[0], backoff=Backoff(jitter=0),
                          on_wait=lambda cause, s: waits.append((cause, s)))
    assert sleeps == [4.0, 4.0]  # at 8 s a third wait would end at 12 s: no retry at 10 s
    assert waits == [("throttled", 4.0), ("throttled", 4.0)]
