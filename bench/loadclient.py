"""Drives the Node load client (bench/loadclient.js) from Python.

One Node process holds at most ``per_shard`` WebSockets (a process's file
descriptors are capped by ``ulimit -n``, and one event loop per core is the
most a 2-core machine can give); :class:`LoadClient` spreads a load over
shards and merges their reports: per-message receive counts, first and last
arrival, duplicates, and every latency sample.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shlex
import subprocess
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "loadclient.js"


def source_addresses(count: int = 32) -> list[str]:
    """Loopback source addresses 127.0.0.2.. so no address runs out of ephemeral ports."""
    return [f"127.0.0.{i}" for i in range(2, 2 + count)]


def fd_limit() -> int:
    """The hard limit on open files: the most any process here may raise itself to."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@dataclass
class Received:
    """Merged receive records of all shards since the last ``expect``."""

    clients: int = 0
    failed: int = 0
    disconnected: int = 0
    received: int = 0
    dups: int = 0
    out_of_range: int = 0
    # seq -> [count, first_ms, last_ms, sent_ms]
    per_seq: dict[int, list[float]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0
    client_rss: int = 0


class _Shard:
    def __init__(self, *, url: str, room: str | None, index: int, workdir: Path,
                 nofile: int) -> None:
        self.raw = workdir / f"latencies-{index}.bin"
        cfg = {
            "url": url,
            "sources": source_addresses(),
            "room": room,
            "concurrency": 128,
            "rawOut": str(self.raw),
            "maxLifeSeconds": 900,
        }
        # Node cannot raise its own descriptor limit: start it through a shell with ulimit -n.
        cmd = f"ulimit -n {nofile} && exec node {shlex.quote(str(SCRIPT))} " \
              f"{shlex.quote(json.dumps(cfg))}"
        self.proc = subprocess.Popen(
            ["bash", "-c", cmd], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self.count = 0

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load client exited with {self.proc.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"cmd": "quit"})
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class LoadClient:
    """Holds WebSocket clients on one server URL; optionally all in one room.

    :param per_shard: most clients in one Node process.
    """

    def __init__(self, url: str, *, room: str | None = None, per_shard: int = 10000,
                 shards: int = 1) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-lc-")
        nofile = fd_limit()
        self.per_shard = min(per_shard, nofile - 100)
        self.shards = [
            _Shard(url=url, room=room, index=i, workdir=Path(self._tmp.name), nofile=nofile)
            for i in range(shards)
        ]

    @property
    def total(self) -> int:
        return sum(s.count for s in self.shards)

    def connect(self, n: int, *, deadline_seconds: float = 180.0) -> dict[str, float]:
        """Connect ``n`` more clients, filling shards in order; returns totals and seconds.

        A step stops starting connections after ``deadline_seconds``; ``short`` then says how
        many were never tried.
        """
        plan: list[tuple[_Shard, int]] = []
        left = n
        for shard in self.shards:
            take = min(left, self.per_shard - shard.count)
            if take > 0:
                plan.append((shard, take))
                left -= take
        if left:
            raise ValueError(f"{n} clients do not fit in {len(self.shards)} shard(s)")
        for shard, take in plan:
            shard.send({"cmd": "connect", "n": take, "deadlineSeconds": deadline_seconds})
        added = failed = 0
        seconds = 0.0
        for shard, _take in plan:
            reply = shard.read()
            shard.count = reply["total"]
            added += reply["added"]
            failed += reply["failed"]
            seconds = max(seconds, reply["seconds"])
        log.info("load client holds %d clients (%d failed in this step)", self.total, failed)
        short = n - added - failed
        if short:
            log.warning("connect step ended at its %.0f s deadline, %d clients short",
                        deadline_seconds, short)
        return {"added": added, "failed": failed, "seconds": seconds, "total": self.total,
                "short": short}

    def expect(self, max_seq: int) -> None:
        for shard in self.shards:
            shard.send({"cmd": "expect", "maxSeq": max_seq})
        for shard in self.shards:
            shard.read()

    def send(self, *, seq0: int, count: int, rate: float, event: str = "my_room_event",
             room: str | None = None) -> dict[str, Any]:
        """Client 0 of shard 0 emits ``count`` messages carrying bseq/bt."""
        shard = self.shards[0]
        shard.send({"cmd": "send", "seq0": seq0, "count": count, "rate": rate,
                    "event": event, "room": room})
        return shard.read()

    def stats(self) -> Received:
        for shard in self.shards:
            shard.send({"cmd": "stats"})
        merged = Received()
        for shard in self.shards:
            r = shard.read()
            merged.clients += r["clients"]
            merged.failed += r["failed"]
            merged.disconnected += r["disconnected"]
            merged.received += r["received"]
            merged.dups += r["dups"]
            merged.out_of_range += r["outOfRange"]
            merged.client_cpu_s += (r["cpu"]["user"] + r["cpu"]["system"]) / 1e6
            merged.client_rss += r["rss"]
            for key, (count, first, last, sent) in r["perSeq"].items():
                seq = int(key)
                have = merged.per_seq.get(seq)
                if have is None:
                    merged.per_seq[seq] = [count, first, last, sent]
                else:
                    have[0] += count
                    have[1] = min(have[1], first)
                    have[2] = max(have[2], last)
            samples = array("d")
            samples.frombytes(shard.raw.read_bytes())
            merged.latencies_ms.extend(samples)
        return merged

    def close(self) -> None:
        for shard in self.shards:
            shard.close()
        self._tmp.cleanup()

    def __enter__(self) -> LoadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def node_available() -> bool:
    return os.path.exists(SCRIPT) and subprocess.run(
        ["node", "-e", "require('ws')"], cwd=ROOT, capture_output=True
    ).returncode == 0
