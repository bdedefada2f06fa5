"""``python -m pushsvc.testing.kubeapi.bench``: show that the emulator is never a bottleneck.

Prints creates/s from one keep-alive client with 0 and 100k stored Events, and create→watch
latency (p50/p99) seen by 3 watchers with 100k stored Events, plus the machine. Bounded: each
phase is capped in count and time; the whole run stays well under a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from .handle import KubeAPI


def _body(namespace: str, name: str | None = None) -> bytes:
    meta: dict[str, Any] = {"name": name} if name else {"generateName": "bench."}
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Event", "metadata": meta,
        "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": namespace},
        "reason": "Broadcast", "type": "Normal", "message": "x" * 200,
    })


def _preload(state_file: Path, count: int) -> None:
    """Write ``count`` Events straight into a state file (creating them over HTTP takes long)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(state_file, "wb") as fh:
        for i in range(count):
            obj = orjson.loads(_body("preload", f"pre.{i}"))
            obj["metadata"].update(namespace="preload", uid=str(uuid.uuid4()),
                                   creationTimestamp=stamp, resourceVersion=str(i + 2))
            fh.write(b'{"e":"ADDED","o":' + orjson.dumps(obj) + b"}\n")


class _Client:
    def __init__(self, api: KubeAPI) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {api.admin_token()}",
                        "Content-Type": "application/json"}

    def create(self, namespace: str, name: str | None = None) -> None:
        self.conn.request("POST", f"/api/v1/namespaces/{namespace}/events",
                          body=_body(namespace, name), headers=self.headers)
        resp = self.conn.getresponse()
        resp.read()
        if resp.status != 201:
            raise RuntimeError(f"create failed: {resp.status}")


def _creates_per_second(api: KubeAPI, seconds: float, cap: int) -> float:
    c = _Client(api)
    n = 0
    start = time.perf_counter()
    while n < cap and time.perf_counter() - start < seconds:
        c.create("bench")
        n += 1
    return n / (time.perf_counter() - start)


def _watcher(api: KubeAPI, sent: dict[str, float], lat: list[float], ready: threading.Event,
             stop: threading.Event) -> None:
    sock = socket.create_connection(("127.0.0.1", api.port))
    sock.sendall((f"GET /api/v1/namespaces/lat/events?watch=1&resourceVersion="
                  f"{api.stats()['resource_version']}&timeoutSeconds=60 HTTP/1.1\r\n"
                  f"Host: 127.0.0.1\r\nAuthorization: Bearer {api.admin_token()}\r\n\r\n"
                  ).encode())
    fh = sock.makefile("rb")
    while fh.readline() not in (b"\r\n", b""):
        pass  # response headers
    ready.set()
    while not stop.is_set():
        line = fh.readline()
        if not line:
            break
        if line.startswith(b"{"):
            now = time.perf_counter()
            name = json.loads(line)["object"]["metadata"]["name"]
            if name in sent:
                lat.append(now - sent[name])
    sock.close()


def _latency(api: KubeAPI, count: int, rate: float) -> list[float]:
    sent: dict[str, float] = {}
    lats: list[list[float]] = [[] for _ in range(3)]
    stop = threading.Event()
    threads = []
    for i in range(3):
        ready = threading.Event()
        t = threading.Thread(target=_watcher, args=(api, sent, lats[i], ready, stop), daemon=True)
        t.start()
        ready.wait(10)
        threads.append(t)
    c = _Client(api)
    gap = 1.0 / rate
    for i in range(count):
        name = f"lat.{i}"
        sent[name] = time.perf_counter()
        c.create("lat", name)
        time.sleep(gap)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sum(len(x) for x in lats) < 3 * count:
        time.sleep(0.05)
    stop.set()
    api.fault("drop_watches")
    for t in threads:
        t.join(5)
    return [x for xs in lats for x in xs]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pushsvc.testing.kubeapi.bench")
    p.add_argument("--stored", type=int, default=100_000)
    p.add_argument("--seconds", type=float, default=3.0, help="per create-rate phase")
    args = p.parse_args(argv)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores, {mem:.1f} GiB RAM; "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        with KubeAPI(Path(tmp) / "empty") as api:
            api.start()
            rate0 = _creates_per_second(api, args.seconds, 20_000)
        print(f"creates/s, one keep-alive client, 0 stored events: {rate0:,.0f}")
        work = Path(tmp) / "full"
        work.mkdir()
        t0 = time.perf_counter()
        _preload(work / "state.jsonl", args.stored)
        with KubeAPI(work) as api:
            api.start(timeout=60)
            load_s = time.perf_counter() - t0
            stored = api.stats()["stored_events"]
            rate_full = _creates_per_second(api, args.seconds, 20_000)
            print(f"creates/s, one keep-alive client, {stored:,} stored events: {rate_full:,.0f}"
                  f"  (preload + start {load_s:.1f} s)")
            lat = _latency(api, count=300, rate=100)
            stats = api.stats()
        print(f"create->watch latency, 3 watchers, {stored:,}+ stored events, 100 creates/s: "
              f"p50 {_pct(lat, 0.5):.2f} ms, p99 {_pct(lat, 0.99):.2f} ms, "
              f"max {max(lat) * 1000:.2f} ms ({len(lat)} deliveries)")
        print(f"  (latency is from before the client sends the create to the watcher reading "
              f"the line; it includes the create itself; median {statistics.median(lat)*1e3:.2f}"
              f" ms)")
        print(f"emulator CPU: {stats['cpu_seconds']:.1f} s, max RSS "
              f"{stats['max_rss_kib'] / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
