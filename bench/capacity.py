"""Scenario 1, capacity: idle WebSocket clients one pod holds, memory per connection, connect rate.

Clients are added in steps (1k, 10k, 20k, 50k); after each step the worker's
resident memory is read from /proc, and (RSS - RSS before any client) / clients
is the memory per connection. pushsvc, plain Flask-SocketIO and the floor (bare
gevent pywsgi + wsproto, bench/floor_app.py) run one after the other in
the same run, never at the same time. ``python -m bench`` raises its own file-descriptor
limit first (``bench.procs.raise_own_limits``: up to fs.nr_open as root) for itself and the
servers and load clients it starts; the load client spreads its connections over loopback
source addresses 127.0.0.2.. so no address runs out of ephemeral ports, and pushsvc runs
with the per-address session and handshake limits lifted (``LIFTED_CLIENT_LIMITS``).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from bench import procs
from bench.common import Context, Row, ScenarioResult
from bench.loadclient import LoadClient

log = logging.getLogger(__name__)

PER_SHARD = 10000


def _sweep(server: procs.Server, levels: list[int]) -> list[dict[str, Any]]:
    time.sleep(0.5)
    rss0 = server.rss()
    points: list[dict[str, Any]] = [{"connections": 0, "rss": rss0}]
    connecting = 0.0  # seconds spent connecting, all steps so far
    shards = max(1, math.ceil(levels[-1] / PER_SHARD))
    with LoadClient(server.url, per_shard=PER_SHARD, shards=shards) as lc:
        for level in levels:
            cpu0 = server.cpu_seconds()
            step = lc.connect(level - lc.total, deadline_seconds=600.0)
            connecting += step["seconds"]
            cpu1 = server.cpu_seconds()
            time.sleep(1.0 if level > 100 else 0.2)
            rss = server.rss()
            point = {
                "connections": lc.total,
                "failed": step["failed"],
                "rss": rss,
                "rss_per_conn": (rss - rss0) / max(1, lc.total),
                "connect_rate": step["added"] / step["seconds"] if step["seconds"] else 0.0,
                "server_cpu_per_connect_ms": 1000 * (cpu1 - cpu0) / max(1, step["added"]),
                "seconds_to_connect_all": connecting,
            }
            log.info("%s holds %d clients, %.0f B RSS each", server.name, lc.total,
                     point["rss_per_conn"])
            points.append(point)
    return points


def run(ctx: Context) -> ScenarioResult:
    cap = procs.max_server_connections()
    levels = sorted({min(level, cap) for level in ctx.sizes.capacity_levels})
    result = ScenarioResult("capacity")
    if levels[-1] < max(ctx.sizes.capacity_levels):
        result.notes.append(
            f"the hard file-descriptor limit here is {cap + 64}, so the top level is "
            f"{levels[-1]} connections, not {max(ctx.sizes.capacity_levels)}"
            + (f" ({procs.LIMIT_NOT_RAISED})" if procs.LIMIT_NOT_RAISED else "")
        )
    connections = levels[-1] + 32
    sweeps: dict[str, list[dict[str, Any]]] = {}
    starters = {
        "pushsvc": lambda: procs.start_pushsvc(log_dir=ctx.log_dir, connections=connections),
        "baseline": lambda: procs.start_baseline(log_dir=ctx.log_dir, connections=connections),
        "floor": lambda: procs.start_floor(log_dir=ctx.log_dir),
    }
    for name, start in starters.items():
        if name == "pushsvc" and not procs.pushsvc_available():
            result.notes.append("pushsvc serve is not available: pushsvc column empty")
            continue
        try:
            server = start()
        except (RuntimeError, TimeoutError) as exc:
            result.errors.append(f"{name} did not start: {exc}")
            continue
        try:
            sweeps[name] = _sweep(server, levels)
        finally:
            server.stop()
    result.raw = {"levels": levels, "sweeps": sweeps}

    def at(name: str, level: int, key: str) -> float | None:
        for p in sweeps.get(name, []):
            if p["connections"] == level:
                return float(p[key])
        return None

    for level in levels:
        result.rows.append(Row(
            f"RSS per idle WebSocket at {level:,}", _kb(at("pushsvc", level, "rss_per_conn")),
            _kb(at("baseline", level, "rss_per_conn")), "KB",
            target="<= 25 KB" if level == levels[-1] else "", higher_is_better=False,
            floor=_kb(at("floor", level, "rss_per_conn")),
        ))
    top = levels[-1]
    result.rows.append(Row(f"connects/s (step to {top:,})", at("pushsvc", top, "connect_rate"),
                           at("baseline", top, "connect_rate"), "/s",
                           target=">= 0.8 x floor", floor=at("floor", top, "connect_rate")))
    result.rows.append(Row(f"server CPU per connect (step to {top:,})",
                           at("pushsvc", top, "server_cpu_per_connect_ms"),
                           at("baseline", top, "server_cpu_per_connect_ms"), "ms",
                           higher_is_better=False,
                           floor=at("floor", top, "server_cpu_per_connect_ms")))
    result.rows.append(Row(f"seconds to connect all {top:,} (every step)",
                           at("pushsvc", top, "seconds_to_connect_all"),
                           at("baseline", top, "seconds_to_connect_all"), "s",
                           higher_is_better=False,
                           floor=at("floor", top, "seconds_to_connect_all")))
    result.rows.append(Row(f"clients held (of {top:,})", at("pushsvc", top, "connections"),
                           at("baseline", top, "connections"), "", target="50k",
                           floor=at("floor", top, "connections")))
    return result


def _kb(value: float | None) -> float | None:
    return None if value is None else value / 1024
