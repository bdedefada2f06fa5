"""``python -m bench snapshots``: the bus lag across snapshot refreshes (issue 20, item 7).

With connection state recovery on, every pod publishes every connected session's snapshot
again each ``PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS``. Published all at once, that is a
burst of Event writes each interval that every pod then reads, and the bus lag of the
notifications behind it jumps (seen in a 15-minute soak: ~5 ms to a 30 s mean of 65–133 ms,
p99 in the 2.5–5 s bucket, every 150 s). Here: three pods behind HAProxy on the emulated
Kubernetes bus, recovery on with a short interval, N WebSocket clients
(bench/rollingclient.js, the recovery protocol), a few notifications per second. Every
second each pod's ``pushsvc_bus_lag_seconds`` histogram and its published snapshot count are
read; printed per second, and summed up: the mean and the worst second's mean and p99
bucket of the bus lag, and the most snapshots published in one second (all pods).
The same scenario against older code (``PYTHONPATH`` pointing at its checkout) gives the
"before" figures.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.common import Context, Row, ScenarioResult
from bench.rolling import POD_ENV, _clients, _line, _Notifier
from pushsvc.testing.topology import LocalTopology

log = logging.getLogger(__name__)

LAG = "pushsvc_bus_lag_seconds"
PUBLISHED = "pushsvc_recovery_snapshots_published_total"


def _scrape(url: str) -> dict[str, float]:
    """The lag histogram's buckets, sum and count, and the snapshots published."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(LAG) or line.startswith(PUBLISHED):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def _buckets(sample: dict[str, float]) -> list[tuple[float, float]]:
    out = []
    for name, value in sample.items():
        if name.startswith(f"{LAG}_bucket"):
            le = name.split('le="', 1)[1].split('"', 1)[0]
            out.append((math.inf if le == "+Inf" else float(le), value))
    return sorted(out)


def _second(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """One pod's second: messages, mean lag (ms), p99 bucket bound (ms), snapshots."""
    count = after.get(f"{LAG}_count", 0.0) - before.get(f"{LAG}_count", 0.0)
    total = after.get(f"{LAG}_sum", 0.0) - before.get(f"{LAG}_sum", 0.0)
    p99 = 0.0
    if count > 0:
        old = dict(_buckets(before))
        for le, value in _buckets(after):
            if value - old.get(le, 0.0) >= 0.99 * count:
                p99 = le
                break
    return {"events": count, "mean_ms": 1000.0 * total / count if count else 0.0,
            "p99_ms": 1000.0 * p99, "snapshots": after.get(PUBLISHED, 0.0)
            - before.get(PUBLISHED, 0.0)}


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("snapshots")
    sizes = ctx.sizes
    n, interval = sizes.snapshots_clients, sizes.snapshots_interval
    workdir = (ctx.log_dir / "snapshots").resolve()
    env = {**POD_ENV, "PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS": f"{interval:g}"}
    seconds: list[dict[str, float]] = []
    spread = False
    with LocalTopology(Path(workdir), bus="kubernetes", pod_env=env) as topology:
        clients = _clients(topology, n, sizes.snapshots_rate * 3600, 0, 1000)
        try:
            up = _line(clients, timeout=300)
            log.info("%d clients connected; watching %.0f s", up["connected"],
                     sizes.snapshots_seconds)
            notifier = _Notifier(topology, sizes.snapshots_rate, 0)
            urls = [pod.url for pod in topology.pods]
            with urllib.request.urlopen(f"{urls[0]}/metrics", timeout=5) as resp:
                spread = b"pushsvc_recovery_history_bytes" in resp.read()
            previous = [_scrape(url) for url in urls]
            start = time.monotonic()
            for tick in range(1, int(sizes.snapshots_seconds) + 1):
                time.sleep(max(0.0, start + tick - time.monotonic()))
                now = [_scrape(url) for url in urls]
                pods = [_second(b, a) for b, a in zip(previous, now, strict=True)]
                previous = now
                row = {"t": float(tick),
                       "mean_ms": max(p["mean_ms"] for p in pods),
                       "p99_ms": max(p["p99_ms"] for p in pods),
                       "snapshots": sum(p["snapshots"] for p in pods),
                       "events": sum(p["events"] for p in pods)}
                seconds.append(row)
                print(f"snapshots t={tick:4d}s  bus lag mean {row['mean_ms']:7.1f} ms  p99 <= "
                      f"{row['p99_ms']:6.0f} ms  snapshots published {row['snapshots']:5.0f}",
                      flush=True)
            notifier.stop()
        finally:
            if clients.poll() is None and clients.stdin is not None:
                try:
                    clients.stdin.write('{"cmd":"quit"}\n')
                    clients.stdin.flush()
                    clients.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    clients.kill()
    active = [s for s in seconds if s["events"] > 0] or [{"mean_ms": 0.0, "p99_ms": 0.0}]
    means = sorted(s["mean_ms"] for s in active)
    result.raw = {"clients": n, "interval": interval, "rate": sizes.snapshots_rate,
                  "spread": spread, "seconds": seconds}
    result.rows = [
        Row("bus lag, mean of the per-second means (worst pod)", sum(means) / len(means),
            None, "ms", higher_is_better=False, baseline_name="-"),
        Row("bus lag, worst second's mean", means[-1], None, "ms", higher_is_better=False,
            baseline_name="-"),
        Row("bus lag, worst second's p99 bucket", max(s["p99_ms"] for s in active), None,
            "ms", higher_is_better=False, baseline_name="-"),
        Row("snapshots published in one second, most (all pods)",
            max((s["snapshots"] for s in seconds), default=0.0), None, "records",
            higher_is_better=False, baseline_name="-"),
    ]
    result.notes.append(
        f"snapshots: {n} clients over 3 pods, recovery on, snapshot interval {interval:g} s, "
        f"{sizes.snapshots_rate} notifications/s, {len(seconds)} s watched, pods "
        f"{'with' if spread else 'WITHOUT'} spread refreshes and byte bounds; per second: "
        + json.dumps([[int(s["t"]), round(s["mean_ms"], 1), s["p99_ms"], s["snapshots"]]
                      for s in seconds]))
    return result
