"""Scenario 3, bus latency: notify() in one process → clients on three pods.

pushsvc: three ``pushsvc serve`` pods with the Kubernetes bus on the API
emulator, the notifier calling ``emitter`` (Event creates). Baseline: three
plain Flask-SocketIO pods on python-socketio's ``RedisManager`` with a local
``redis-server`` started here, the notifier a write-only ``RedisManager``.
Clients on every pod join one room; at each rate the notifier sends for a
fixed time and every client records latency, loss and duplicates. The
emulator's own CPU is reported, so an emulator bottleneck is not taken for
a pushsvc one. Each step also gets a latency budget, hop by hop
(:mod:`bench.hops`): the emulator records accept/write times per Event
(``--record-timings``), redis is watched with MONITOR, the pods report their
read/emit hops in /metrics.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import hops, procs
from bench.common import Context, Row, ScenarioResult, latency_summary
from bench.loadclient import LoadClient, Received

if TYPE_CHECKING:
    from pushsvc.testing.kubeapi import KubeAPI

log = logging.getLogger(__name__)

ROOM = "bench"
NAMESPACE = "default"
CHANNEL = "pushsvc"
PODS = 3
#: The bus server of each column — the emulator, redis-server — runs at this nice value: in a
#: cluster it has machines of its own (the control plane, a Redis host) instead of competing
#: with the pods and the notifier for this machine's two cores. Same for both columns.
BUS_SERVER_NICE = -10


def boost(pid: int, notes: list[str]) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, pid, BUS_SERVER_NICE)
    except (PermissionError, OSError) as exc:
        notes.append(f"could not renice the bus server (pid {pid}) to {BUS_SERVER_NICE}: {exc}")


@dataclass
class Emulator:
    api: KubeAPI
    kubeconfig: Path

    def cpu_seconds(self) -> float:
        assert self.api.pid is not None
        return procs.proc_cpu_seconds(self.api.pid)


def emulator_available() -> bool:
    try:
        import pushsvc.bus.manager  # noqa: F401
        import pushsvc.testing.kubeapi  # noqa: F401
    except ImportError:
        return False
    return True


def start_emulator(ctx: Context, stack: ExitStack) -> Emulator | None:
    """The Kubernetes API emulator (``pushsvc.testing.kubeapi``) as its own process, or None."""
    if not emulator_available():
        return None
    from pushsvc.testing.kubeapi import start_kubeapi

    workdir = ctx.log_dir / f"kubeapi-{os.getpid()}-{time.monotonic_ns()}"
    try:
        api = stack.enter_context(start_kubeapi(workdir, persist=False,
                                                extra_args=["--record-timings"]))
    except RuntimeError as exc:
        raise RuntimeError(f"the kubeapi emulator did not start: {exc}") from exc
    log.info("kubeapi emulator ready (pid %s)", api.pid)
    return Emulator(api, api.kubeconfig)


def kube_bus_env(emu: Emulator) -> dict[str, str]:
    return {"PUSHSVC_BUS": "kubernetes", "PUSHSVC_KUBECONFIG": str(emu.kubeconfig),
            "PUSHSVC_BUS_NAMESPACE": NAMESPACE, "PUSHSVC_BUS_CHANNEL": CHANNEL}


def _notify(args: list[str], timeout: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.notifier", *args], cwd=procs.ROOT,
                         capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"notifier failed: {out.stderr.strip()[-2000:]}")
    reply: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return reply


def _drain(clients: list[LoadClient], expected: int, *, max_seconds: float) -> list[Received]:
    """Wait until every message arrived, or none arrived for 3 s (bounded); late ones count."""
    deadline = time.monotonic() + max_seconds
    got, last_change = -1, time.monotonic()
    while True:
        time.sleep(0.25)
        stats = [lc.stats() for lc in clients]
        now_got = sum(len(st.latencies_ms) for st in stats)
        if now_got != got:
            got, last_change = now_got, time.monotonic()
        if got >= expected or time.monotonic() - last_change > 3.0 or \
                time.monotonic() > deadline:
            return stats


def _sweep(ctx: Context, servers: list[procs.Server], notifier_args: list[str],
           emu: Emulator | None, *, hop_metric: str,
           monitor: hops.RedisMonitor | None = None) -> list[dict[str, Any]]:
    sz = ctx.sizes
    points: list[dict[str, Any]] = []
    with ExitStack() as stack:
        clients = [stack.enter_context(LoadClient(s.url, room=ROOM)) for s in servers]
        for lc in clients:
            lc.connect(sz.bus_clients_per_pod)
        n_clients = sum(lc.total for lc in clients)
        seq0 = 0
        for rate, seconds in zip(sz.bus_rates, sz.bus_seconds, strict=True):
            count = max(1, int(rate * seconds))
            for lc in clients:
                lc.expect(seq0 + count)
            hops0 = [hops.scrape_hops(s.url, hop_metric) for s in servers]
            if emu is not None:
                emu.api.timings()  # start this step's records empty
            if monitor is not None:
                monitor.published = {}
            cpu0 = [s.cpu_seconds() for s in servers]
            emu0 = emu.cpu_seconds() if emu else 0.0
            sent = _notify([*notifier_args, "--trace", "--seq0", str(seq0), "--count", str(count),
                            "--rate", str(rate), "--max-seconds", str(seconds * 3 + 5)],
                           timeout=seconds * 3 + 60)
            expected = n_clients * sent["sent"]
            stats = _drain(clients, expected, max_seconds=5.0 if ctx.smoke else 20.0)
            if monitor is not None:
                monitor.wait_for(sent["sent"], timeout=5.0)
            lat = [x for st in stats for x in st.latencies_ms]
            cpu1 = [s.cpu_seconds() for s in servers]
            emu1 = emu.cpu_seconds() if emu else 0.0
            pods = hops.merge([hops.delta(hops.scrape_hops(s.url, hop_metric), h0)
                               for s, h0 in zip(servers, hops0, strict=True)])
            budget = hops.budget(trace=sent["trace"], received_ms=lat, pods=pods,
                                 emulator=emu.api.timings() if emu is not None else None,
                                 published=dict(monitor.published) if monitor else None)
            point = {
                "rate": rate, "clients": n_clients, "sent": sent["sent"],
                "achieved_rate": sent["rate"], "notify_call_ms_p50": sent["call_ms_p50"],
                "latency_ms": latency_summary(lat), "delivered": len(lat),
                "lost": expected - len(lat), "dups": sum(st.dups for st in stats),
                "server_cpu_s": [c1 - c for c1, c in zip(cpu1, cpu0, strict=True)],
                "emulator_cpu_s": (emu1 - emu0) if emu else None,
                "disconnected": sum(st.disconnected for st in stats),
                "budget": budget,
            }
            log.info("rate %d/s: p50 %.1f ms p99 %.1f ms, lost %d", rate,
                     point["latency_ms"]["p50"], point["latency_ms"]["p99"], point["lost"])
            points.append(point)
            seq0 += count
    return points


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("bus")
    sweeps: dict[str, list[dict[str, Any]]] = {}
    conns = ctx.sizes.bus_clients_per_pod + 64
    with ExitStack() as stack:
        emu = start_emulator(ctx, stack) if procs.pushsvc_available() else None
        if emu is None:
            result.notes.append("the emulator or the Kubernetes bus is not available yet: "
                                "pushsvc column empty")
        else:
            assert emu.api.pid is not None
            boost(emu.api.pid, result.notes)
            env = kube_bus_env(emu)
            pods = []
            try:
                for i in range(PODS):
                    pods.append(procs.start_pushsvc(log_dir=ctx.log_dir, connections=conns,
                                                    extra_env=env, name=f"pushsvc-{i}"))
                sweeps["pushsvc"] = _sweep(ctx, pods, [
                    "--kind", "kube", "--kubeconfig", str(emu.kubeconfig), "--namespace",
                    NAMESPACE, "--channel", CHANNEL, "--room", ROOM], emu,
                    hop_metric="pushsvc_bus_hop_seconds")
            except (RuntimeError, TimeoutError) as exc:
                result.errors.append(f"pushsvc bus run failed: {exc}")
            finally:
                for pod in pods:
                    pod.stop()
    with procs.redis_server(ctx.log_dir) as url:
        pods = []
        monitor = None
        try:
            for i in range(PODS):
                pods.append(procs.start_baseline(log_dir=ctx.log_dir, connections=conns,
                                                 redis_url=url, name=f"redis-pod-{i}"))
            monitor = hops.RedisMonitor(url)
            boost(monitor.server_pid(), result.notes)
            sweeps["baseline"] = _sweep(ctx, pods, ["--kind", "redis", "--url", url,
                                                    "--room", ROOM], None,
                                        hop_metric="bench_bus_hop_seconds", monitor=monitor)
        finally:
            if monitor is not None:
                monitor.close()
            for pod in pods:
                pod.stop()
    result.raw = {"sweeps": sweeps, "pods": PODS,
                  "clients_per_pod": ctx.sizes.bus_clients_per_pod}

    def point(name: str, rate: int) -> dict[str, Any] | None:
        for p in sweeps.get(name, []):
            if p["rate"] == rate:
                return p
        return None

    for rate in ctx.sizes.bus_rates:
        pp, bp = point("pushsvc", rate), point("baseline", rate)
        result.rows.append(Row(
            f"notifications/s achieved (asked {rate}/s)",
            None if pp is None else pp["achieved_rate"],
            None if bp is None else bp["achieved_rate"], "/s", baseline_name="RedisManager"))
        for q in ("p50", "p99", "max"):
            result.rows.append(Row(
                f"bus latency {q} at {rate}/s", None if pp is None else pp["latency_ms"][q],
                None if bp is None else bp["latency_ms"][q], "ms", higher_is_better=False,
                target="<= 1.2x Redis" if (q != "max" and rate in (10, 100)) else "",
                baseline_name="RedisManager"))
        result.rows.append(Row(f"bus lost at {rate}/s", None if pp is None else pp["lost"],
                               None if bp is None else bp["lost"],
                               "msgs", target="0", higher_is_better=False,
                               baseline_name="RedisManager"))
        if pp is not None:
            result.rows.append(Row(f"emulator CPU at {rate}/s", pp["emulator_cpu_s"], None,
                                   "s", higher_is_better=False, baseline_name="-"))
        result.rows.extend(_budget_rows(rate, pp, bp))
    return result


#: Row names of the budget: pushsvc's boundary, RedisManager's equivalent.
_HOP_NAMES = {
    "sent → accepted": "send → accepted (Redis: PUBLISH ran)",
    "accepted → read": "accepted → pod read",
    "accepted → written": "  of which accepted → watch line written",
    "written → read": "  of which written → pod read",
    "read → emitted": "pod read → emitted to the room",
    "emitted → received": "emitted → client received",
}


def _budget_rows(rate: int, pp: dict[str, Any] | None, bp: dict[str, Any] | None) -> list[Row]:
    """The latency budget, hop by hop (difference of cumulative percentiles since send)."""
    def hop(p: dict[str, Any] | None, key: str, q: str) -> float | None:
        if p is None:
            return None
        b = p["budget"]
        value = {**b["hops_ms"], **b["split_ms"]}.get(key, {}).get(q)
        return None if value is None else round(value, 2)

    rows = []
    for q in ("p50", "p99"):
        for key, label in _HOP_NAMES.items():
            pv, bv = hop(pp, key, q), hop(bp, key, q)
            if pv is None and bv is None:
                continue
            rows.append(Row(f"bus hop {q} at {rate}/s: {label}", pv, bv, "ms",
                            higher_is_better=False, baseline_name="RedisManager"))
    return rows


def default_log_dir() -> Path:
    return procs.ROOT / "artifacts" / "bench"
