"""``python -m bench overload``: a fan-out past what the machine delivers degrades, never kills.

Issue 21's soak: N WebSocket clients over three pods on the emulated Kubernetes bus (the Node
load client, one process per pod, over loopback source addresses 127.0.0.2..), and R
notifications/s to everyone from one notifier process (``emitter``), for a bounded time. At
8,000 clients and 10/s that is 80,000 deliveries/s, more than two shared cores deliver. Every
second each pod's ``/healthz``, ``/readyz`` and ``/metrics`` are asked (one thread per pod and
path, 5 s timeout) and the answer's latency kept; afterwards the gunicorn log of each pod is
read for ``WORKER TIMEOUT`` and ``SIGKILL`` lines (the worker's heartbeat missed: gunicorn kills
it and every client on it is dropped). Printed per pod: the worst /healthz latency, worker
timeouts and kills (target 0), clients dropped (connections the load client saw closed) and,
of those, how many the server shed by the queued-bytes cap, the delivery lag (notify() to
receipt) p50/p99/max, deliveries/s, and the pod's own fan-out lag gauge at its worst.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from typing import Any

from bench import procs
from bench.buslatency import CHANNEL, NAMESPACE, boost, kube_bus_env, start_emulator
from bench.common import Context, Row, ScenarioResult, latency_summary
from bench.loadclient import LoadClient

log = logging.getLogger(__name__)

PODS = 3
PATHS = ("/healthz", "/readyz", "/metrics")
PROBE_TIMEOUT = 5.0
SHED = 'pushsvc_engine_closed_connections_total{reason="slow_reader"}'
FANOUT_LAG = "pushsvc_fanout_lag_seconds"
YIELDS = "pushsvc_fanout_yields_total"


class _Prober:
    """Asks one path of one pod once a second; keeps (second, latency or None on failure)."""

    def __init__(self, url: str, path: str, stop: threading.Event) -> None:
        self.url, self.path, self._stop = url, path, stop
        self.samples: list[tuple[float, float | None]] = []
        self.last_body = ""
        self.metrics_max: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            latency: float | None
            try:
                with urllib.request.urlopen(self.url + self.path, timeout=PROBE_TIMEOUT) as resp:
                    body = resp.read().decode("utf-8", "replace")
                latency = time.monotonic() - t
                if self.path == "/metrics":
                    self._keep(body)
            except urllib.error.HTTPError as exc:  # /readyz answers 503 while not ready
                latency = time.monotonic() - t if exc.code == 503 else None
            except (OSError, ValueError):
                latency = None
            self.samples.append((t - self._t0, latency))
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - t)))

    def _keep(self, body: str) -> None:
        self.last_body = body
        for line in body.splitlines():
            if line.startswith((SHED, FANOUT_LAG, YIELDS)):
                name, _, value = line.rpartition(" ")
                try:
                    self.metrics_max[name] = max(self.metrics_max.get(name, 0.0), float(value))
                except ValueError:
                    pass

    def join(self) -> None:
        self._thread.join(timeout=PROBE_TIMEOUT + 2)

    def worst(self) -> float | None:
        """The slowest answer in seconds; PROBE_TIMEOUT for one that never came."""
        values = [PROBE_TIMEOUT if lat is None else lat for _t, lat in self.samples]
        return max(values) if values else None

    def failures(self) -> int:
        return sum(1 for _t, lat in self.samples if lat is None)


def _log_counts(path: Any) -> dict[str, int]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {"worker_timeouts": -1, "worker_kills": -1, "shed_logged": -1}
    return {
        "worker_timeouts": len(re.findall(r"WORKER TIMEOUT", text)),
        "worker_kills": len(re.findall(r"SIGKILL", text)),
        "shed_logged": len(re.findall(r"the client did not read", text)),
    }


def _notify(emu_kubeconfig: str, count: int, rate: int, seconds: float) -> subprocess.Popen[str]:
    """The notifier process: ``count`` notifications to everyone at ``rate``/s."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.notifier", "--kind", "kube", "--kubeconfig",
         emu_kubeconfig, "--namespace", NAMESPACE, "--channel", CHANNEL, "--room", "",
         "--count", str(count), "--rate", str(rate), "--max-seconds", str(seconds + 10)],
        cwd=procs.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(ctx: Context) -> ScenarioResult:
    sz = ctx.sizes
    result = ScenarioResult("overload")
    per_pod = math.ceil(sz.overload_clients / PODS)
    count = int(sz.overload_rate * sz.overload_seconds)
    load0 = os.getloadavg()
    pods: list[procs.Server] = []
    raw: dict[str, Any] = {"clients": per_pod * PODS, "rate": sz.overload_rate,
                           "seconds": sz.overload_seconds, "load_average_at_start": load0,
                           "pods": []}
    with ExitStack() as stack:
        emu = start_emulator(ctx, stack)
        if emu is None:
            result.errors.append("the emulator or the Kubernetes bus is not available")
            return result
        assert emu.api.pid is not None
        boost(emu.api.pid, result.notes)
        env = {**kube_bus_env(emu),
               "PUSHSVC_MAX_SESSIONS_TOTAL": str(per_pod + 64)}
        try:
            for i in range(PODS):
                pods.append(procs.start_pushsvc(log_dir=ctx.log_dir, connections=per_pod + 64,
                                                extra_env=env, name=f"overload-{i}"))
                stack.callback(pods[-1].stop)
            clients = [stack.enter_context(LoadClient(p.url, per_shard=per_pod)) for p in pods]
            for lc in clients:
                step = lc.connect(per_pod, deadline_seconds=300.0)
                if step["failed"] or step["short"]:
                    result.notes.append(f"overload: {step['failed']:.0f} connects failed, "
                                        f"{step['short']:.0f} not tried in time")
            for lc in clients:
                lc.expect(count)
            stop = threading.Event()
            probers = [[_Prober(p.url, path, stop) for path in PATHS] for p in pods]
            cpu0 = [p.cpu_seconds() for p in pods]
            t0 = time.monotonic()
            notifier = _notify(str(emu.kubeconfig), count, sz.overload_rate, sz.overload_seconds)
            try:
                out, err = notifier.communicate(timeout=sz.overload_seconds + 60)
            except subprocess.TimeoutExpired:
                notifier.kill()
                out, err = notifier.communicate()
            sent = json.loads(out.strip().splitlines()[-1])["sent"] if out.strip() else 0
            if not sent:
                result.errors.append(f"the notifier sent nothing: {err.strip()[-500:]}")
            # The pods lag: give them a bounded while to catch up, then count.
            expected = sent * sum(lc.total for lc in clients)
            deadline = time.monotonic() + (5.0 if ctx.smoke else 30.0)
            stats = [lc.stats() for lc in clients]
            while sum(len(s.latencies_ms) for s in stats) < expected - sum(
                    s.disconnected for s in stats) * sent and time.monotonic() < deadline:
                time.sleep(1.0)
                stats = [lc.stats() for lc in clients]
            elapsed = time.monotonic() - t0
            cpu = [p.cpu_seconds() - c for p, c in zip(pods, cpu0, strict=True)]
            stop.set()
            for row in probers:
                for prober in row:
                    prober.join()
        except (RuntimeError, TimeoutError) as exc:
            result.errors.append(f"overload run failed: {exc}")
            return result
    for i, (pod, st, row) in enumerate(zip(pods, stats, probers, strict=True)):
        logs = _log_counts(pod.log_path)
        by_path = {prober.path: prober for prober in row}
        metrics_max = by_path["/metrics"].metrics_max
        lag = latency_summary(st.latencies_ms)
        point: dict[str, Any] = {
            "pod": i, "clients": st.clients, "delivered": len(st.latencies_ms),
            "expected": sent * st.clients, "dups": st.dups,
            "dropped": st.disconnected,
            "shed_by_cap": int(metrics_max.get(SHED, 0.0)),
            "deliveries_per_s": _rate(st),
            "lag_ms": lag, "server_cpu_s": cpu[i],
            "fanout_lag_max_s": metrics_max.get(FANOUT_LAG),
            "fanout_yields": metrics_max.get(YIELDS),
            **logs,
            **{f"{p.path.strip('/')}_worst_s": p.worst() for p in row},
            **{f"{p.path.strip('/')}_failures": p.failures() for p in row},
            "per_second": {p.path: p.samples for p in row},
        }
        raw["pods"].append(point)

        def add(figure: str, value: float | None, unit: str, target: str = "",
                higher: bool = False, pod: int = i) -> None:
            result.rows.append(Row(f"pod {pod}: {figure}", value, None, unit, target=target,
                                   higher_is_better=higher, baseline_name="-"))

        add("/healthz worst latency", _ms(point["healthz_worst_s"]), "ms",
            target=f"< {PROBE_TIMEOUT * 1000:.0f}")
        add("/readyz worst latency", _ms(point["readyz_worst_s"]), "ms")
        add("/metrics worst latency", _ms(point["metrics_worst_s"]), "ms")
        add("probes unanswered (all three paths)", sum(
            point[f"{p.strip('/')}_failures"] for p in PATHS), "", target="0")
        add("worker timeouts", logs["worker_timeouts"], "", target="0")
        add("workers SIGKILLed", logs["worker_kills"], "", target="0")
        add("clients dropped", point["dropped"], "")
        add("of them shed by the queued-bytes cap", point["shed_by_cap"], "")
        add("delivery lag p50", lag["p50"], "ms")
        add("delivery lag p99", lag["p99"], "ms")
        add("delivery lag max", lag["max"], "ms")
        add(f"deliveries/s (asked {sz.overload_rate * st.clients:,}/s)",
            point["deliveries_per_s"], "/s", higher=True)
        add("fan-out lag gauge, worst scrape", point["fanout_lag_max_s"], "s")
    raw["sent"] = sent
    raw["seconds_measured"] = elapsed
    result.raw = raw
    result.notes.append(
        f"overload: {raw['clients']:,} WebSocket clients over {PODS} pods, "
        f"{sent} notifications to everyone at "
        f"{sz.overload_rate}/s ({sz.overload_rate * raw['clients']:,} deliveries/s asked); "
        f"load average {load0[0]:.1f} at the start, {os.cpu_count()} cores shared by the pods, "
        "the emulator, the notifier and the Node load clients")
    return result


def _rate(st: Any) -> float:
    """Deliveries per second from the first send to the last arrival."""
    seqs = list(st.per_seq.values())
    if not seqs:
        return 0.0
    span = (max(v[2] for v in seqs) - min(v[3] for v in seqs)) / 1000
    return len(st.latencies_ms) / span if span > 0 else 0.0


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds
