"""Scenario 2, fan-out: one pod broadcasts to a room of N clients; deliveries/s and time to last.

One client of the room sends bursts of ``my_room_event``; the server emits each
to the whole room. Per burst: deliveries / (last arrival - first send); per
message: the time from its send until the last client has it. When the
Kubernetes API emulator and the bus exist, pushsvc runs with its bus on (the
bus must add nothing to the hot path); otherwise with the memory manager. The
floor (bare gevent pywsgi + wsproto looping a send per member, bench/floor_app.py)
runs the same bursts: server CPU per delivery is reported against it.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import ExitStack
from typing import Any

from bench import procs
from bench.buslatency import kube_bus_env, start_emulator
from bench.common import Context, Row, ScenarioResult, latency_summary
from bench.loadclient import LoadClient

log = logging.getLogger(__name__)

PER_SHARD = 10000
ROOM = "bench"


def _measure(server: procs.Server, clients: int, bursts: int, per_burst: int,
             settle_s: float) -> dict[str, Any]:
    shards = max(1, math.ceil(clients / PER_SHARD))
    with LoadClient(server.url, room=ROOM, per_shard=PER_SHARD, shards=shards) as lc:
        step = lc.connect(clients, deadline_seconds=60.0)
        rates: list[float] = []
        to_last: list[float] = []
        delivered = expected = dups = 0
        cpu0 = server.cpu_seconds()
        for b in range(bursts):
            seq0 = b * per_burst
            lc.expect(seq0 + per_burst)
            lc.send(seq0=seq0, count=per_burst, rate=0, room=ROOM)
            # Bounded wait until every client has every message of the burst.
            want = lc.total * per_burst
            deadline = time.monotonic() + settle_s
            while True:
                time.sleep(0.2)
                st = lc.stats()
                got = sum(int(v[0]) for k, v in st.per_seq.items() if k >= seq0)
                if got >= want or time.monotonic() > deadline:
                    break
            seqs = [v for k, v in st.per_seq.items() if k >= seq0]
            if seqs:
                first_send = min(v[3] for v in seqs)
                last = max(v[2] for v in seqs)
                rates.append(got / ((last - first_send) / 1000))
                to_last.extend(v[2] - v[3] for v in seqs)
            delivered += got
            expected += want
            dups += st.dups
            time.sleep(0.3)
        cpu = server.cpu_seconds() - cpu0
    return {
        "clients": step["total"],
        "failed_connects": step["failed"],
        "not_connected_in_time": step["short"],
        "deliveries_per_s": max(rates) if rates else 0.0,
        "deliveries_per_s_bursts": rates,
        "time_to_last_ms": latency_summary(to_last),
        "delivered": delivered,
        "expected": expected,
        "dups": dups,
        "server_cpu_us_per_delivery": 1e6 * cpu / max(1, delivered),
    }


def run(ctx: Context) -> ScenarioResult:
    sz = ctx.sizes
    result = ScenarioResult("fanout")
    runs: dict[str, dict[int, dict[str, Any]]] = {"pushsvc": {}, "baseline": {}, "floor": {}}
    connections = max(sz.fanout_rooms) + 64
    settle = 10.0 if ctx.smoke else 30.0
    with ExitStack() as stack:
        pushsvc_env: dict[str, str] = {}
        emu = start_emulator(ctx, stack)
        if emu is not None:
            pushsvc_env = kube_bus_env(emu)
            result.notes.append("pushsvc ran with its Kubernetes bus on (emulator)")
        else:
            result.notes.append("pushsvc ran with the memory manager (no emulator or bus yet)")
        for size in sz.fanout_rooms:
            if procs.pushsvc_available():
                try:
                    server = procs.start_pushsvc(log_dir=ctx.log_dir, connections=connections,
                                                 extra_env=pushsvc_env)
                except (RuntimeError, TimeoutError) as exc:
                    result.errors.append(f"pushsvc did not start: {exc}")
                else:
                    try:
                        runs["pushsvc"][size] = _measure(server, size, sz.fanout_bursts,
                                                         sz.fanout_burst_messages, settle)
                    finally:
                        server.stop()
            for name, start in (
                ("baseline", lambda: procs.start_baseline(log_dir=ctx.log_dir,
                                                          connections=connections)),
                ("floor", lambda: procs.start_floor(log_dir=ctx.log_dir)),
            ):
                server = start()
                try:
                    runs[name][size] = _measure(server, size, sz.fanout_bursts,
                                                sz.fanout_burst_messages, settle)
                finally:
                    server.stop()
    for name, by_size in runs.items():
        for size, r in by_size.items():
            if r["not_connected_in_time"] or r["failed_connects"]:
                result.notes.append(
                    f"fan-out {name}: only {r['clients']:,} of {size:,} clients connected "
                    f"({r['failed_connects']} failed, {r['not_connected_in_time']} not tried "
                    "within the 60 s connect deadline)")
    result.raw = {"runs": runs, "bursts": sz.fanout_bursts,
                  "messages_per_burst": sz.fanout_burst_messages}

    def get(name: str, size: int, *keys: str) -> float | None:
        value: Any = runs[name].get(size)
        for key in keys:
            if value is None:
                return None
            value = value[key]
        return None if value is None else float(value)

    for size in sz.fanout_rooms:
        result.rows.append(Row(f"fan-out deliveries/s, room of {size:,}",
                               get("pushsvc", size, "deliveries_per_s"),
                               get("baseline", size, "deliveries_per_s"), "/s",
                               target=">= baseline",
                               floor=get("floor", size, "deliveries_per_s")))
        result.rows.append(Row(f"fan-out server CPU per delivery, room of {size:,}",
                               get("pushsvc", size, "server_cpu_us_per_delivery"),
                               get("baseline", size, "server_cpu_us_per_delivery"), "µs",
                               target="<= 1.2 x floor", higher_is_better=False,
                               floor=get("floor", size, "server_cpu_us_per_delivery")))
        result.rows.append(Row(f"fan-out time to last client p50, room of {size:,}",
                               get("pushsvc", size, "time_to_last_ms", "p50"),
                               get("baseline", size, "time_to_last_ms", "p50"), "ms",
                               higher_is_better=False,
                               floor=get("floor", size, "time_to_last_ms", "p50")))
        lost_p = get("pushsvc", size, "expected")
        lost_b = get("baseline", size, "expected")
        result.rows.append(Row(
            f"fan-out lost, room of {size:,}",
            None if lost_p is None else lost_p - (get("pushsvc", size, "delivered") or 0),
            None if lost_b is None else lost_b - (get("baseline", size, "delivered") or 0),
            "msgs", target="0", higher_is_better=False))
    return result
