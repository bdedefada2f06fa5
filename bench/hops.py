"""The bus latency budget: where the time of one notification goes, hop by hop.

Every boundary is timed in the process that sees it, with ``time.time()`` (CLOCK_REALTIME);
all processes run on one machine, so the clocks agree. Each boundary is reported as the time
since the notifier's send (``bt``, taken just before ``notify()`` / ``RedisManager.emit``),
and a hop as the difference of two such cumulative percentiles: the hop p50s add up to the
end-to-end p50 (so do the p99s, roughly), which is what a budget is for.

pushsvc: send → **accepted** (the emulator committed the Event; ``--record-timings``) →
**written** (the emulator's watch stream handed that line to the socket, once per watching
pod) → **read** (the pod took the line off its watch stream; ``pushsvc_bus_hop_seconds``
from /metrics, measured from the Event's envelope time, a few µs after ``bt``) → **emitted**
(the pod's Socket.IO emit to its clients returned) → **received** (the Node load client).

RedisManager: send → **PUBLISH** (redis ran the command: its MONITOR timestamp) → **read**
(the pod's RedisManager listener got the message) → **emitted** → **received**; the pods'
figures come from ``bench_bus_hop_seconds`` (bench/baseline_app.py).

The pods' figures are histograms (fine buckets below 50 ms, linear inside a bucket); the
emulator's, redis's and the clients' are exact samples.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.common import percentile

log = logging.getLogger(__name__)

#: hop label -> {upper bound (s): cumulative count}
Buckets = dict[str, dict[float, float]]


def scrape_hops(url: str, metric: str) -> Buckets:
    """The cumulative bucket counts of histogram ``metric`` on ``url``/metrics, by hop."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: Buckets = {}
    for family in text_string_to_metric_families(text):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name == f"{metric}_bucket":
                le = float(sample.labels["le"])
                out.setdefault(sample.labels["hop"], {})[le] = sample.value
    return out


def delta(after: Buckets, before: Buckets) -> Buckets:
    return {hop: {le: n - before.get(hop, {}).get(le, 0.0) for le, n in les.items()}
            for hop, les in after.items()}


def merge(parts: list[Buckets]) -> Buckets:
    out: Buckets = {}
    for part in parts:
        for hop, les in part.items():
            mine = out.setdefault(hop, {})
            for le, n in les.items():
                mine[le] = mine.get(le, 0.0) + n
    return out


def histogram_percentile(les: dict[float, float], q: float) -> float | None:
    """Percentile ``q`` (0..100) in ms from cumulative buckets, linear inside a bucket."""
    bounds = sorted(les)
    if not bounds or les[bounds[-1]] <= 0:
        return None
    total = les[bounds[-1]]
    rank = q / 100 * total
    lower, below = 0.0, 0.0
    for le in bounds:
        count = les[le]
        if count >= rank:
            if le == float("inf"):
                return lower * 1000
            inside = count - below
            frac = (rank - below) / inside if inside else 1.0
            return (lower + (le - lower) * frac) * 1000
        lower, below = le, count
    return lower * 1000


class RedisMonitor:
    """Times each PUBLISH as redis runs it (MONITOR), by the ``bseq`` of its message.

    MONITOR costs redis an echo of every command to this client; at the rates measured
    here that is a few µs per PUBLISH.
    """

    _SEQ = re.compile(r"bseq=(\d+)")

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self.published: dict[int, float] = {}  # bseq -> redis time (Unix seconds)
        self._ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="redis-monitor", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("redis MONITOR did not start")

    def _run(self) -> None:
        with self._client.monitor() as mon:
            self._ready.set()
            for cmd in mon.listen():
                if self._stop:
                    return
                text = str(cmd.get("command", ""))
                if not text.upper().startswith("PUBLISH"):
                    continue
                found = self._SEQ.search(text)
                if found:
                    self.published.setdefault(int(found.group(1)), float(cmd["time"]))

    def server_pid(self) -> int:
        return int(self._client.info("server")["process_id"])

    def wait_for(self, count: int, *, timeout: float) -> None:
        """Until ``count`` PUBLISHes were seen (MONITOR's reader may lag a loaded machine)."""
        deadline = time.monotonic() + timeout
        while len(self.published) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._stop = True
        self._client.publish("bench-monitor-stop", "x")  # wakes the MONITOR reader
        self._thread.join(5)
        self._client.close()


def _summary(values_ms: list[float]) -> dict[str, float | None]:
    if not values_ms:
        return {"n": 0, "p50": None, "p99": None}
    return {"n": len(values_ms), "p50": percentile(values_ms, 50),
            "p99": percentile(values_ms, 99)}


def budget(*, trace: list[list[Any]], received_ms: list[float], pods: Buckets,
           emulator: dict[str, dict[str, Any]] | None = None,
           published: dict[int, float] | None = None) -> dict[str, Any]:
    """Cumulative percentiles (ms since send) at each boundary, and the hops between them.

    :param trace: the notifier's (seq, Event name, bt ms) per message.
    :param received_ms: every client's receive time minus bt.
    :param pods: the pods' hop histograms (merged deltas over the step).
    :param emulator: the emulator's timings by Event name (pushsvc).
    :param published: redis's PUBLISH time by seq (RedisManager).
    """
    since: dict[str, dict[str, float | None]] = {}
    exact: dict[str, dict[str, float | None]] = {}
    if emulator is not None:
        accepted, written, parsed = [], [], []
        to_written = []
        for _seq, name, bt in trace:
            rec = emulator.get(str(name))
            if rec is None:
                continue
            accepted.append(rec["accepted"] * 1000 - bt)
            if rec.get("arrived"):
                parsed.append(rec["arrived"] * 1000 - bt)
            for w in rec["written"]:
                written.append(w * 1000 - bt)
                to_written.append((w - rec["accepted"]) * 1000)
        since["request parsed"] = _summary(parsed)
        since["accepted"] = _summary(accepted)
        since["written"] = _summary(written)
        exact["accepted → written"] = _summary(to_written)
    if published is not None:
        since["accepted"] = _summary([published[seq] * 1000 - bt for seq, _n, bt in trace
                                      if seq in published])
    for label, hop in (("read", "publish_to_read"), ("emitted", "publish_to_emit")):
        les = pods.get(hop, {})
        since[label] = {"n": max(les.values(), default=0.0),
                        "p50": histogram_percentile(les, 50),
                        "p99": histogram_percentile(les, 99)}
    emit = pods.get("read_to_emit", {})
    exact["read → emitted"] = {"n": max(emit.values(), default=0.0),
                               "p50": histogram_percentile(emit, 50),
                               "p99": histogram_percentile(emit, 99)}
    since["received"] = _summary(received_ms)
    return {"since_send_ms": since, "hops_ms": _chain(since, CHAIN),
            "split_ms": _chain(since, ["accepted", "written", "read"]) if "written" in since
            else {}, "exact_hops_ms": exact}


#: The boundaries both buses have; pushsvc's "written" splits accepted → read (``split_ms``).
CHAIN = ["accepted", "read", "emitted", "received"]


def _chain(since: dict[str, dict[str, float | None]], names: list[str]
           ) -> dict[str, dict[str, float | None]]:
    hops: dict[str, dict[str, float | None]] = {}
    prev = "sent"
    for name in names:
        hop: dict[str, float | None] = {}
        for q in ("p50", "p99"):
            end = since.get(name, {}).get(q)
            start = 0.0 if prev == "sent" else since.get(prev, {}).get(q)
            hop[q] = None if end is None or start is None else end - start
        hops[f"{prev} → {name}"] = hop
        prev = name
    return hops
