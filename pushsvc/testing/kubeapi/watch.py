"""Open watches: fan-out of changes, faults (stall, drop) and stream framing.

Each watch owns a list of pending lines and a gevent Event; a write appends the already
serialized line to every matching watcher (selectors are evaluated per watcher) and wakes it, so
delivery costs one list append per watcher. A side greenlet peeks at the socket to notice a
client that went away while nothing was being written.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.event
import orjson

from . import table
from .objects import Change
from .selectors import Predicate
from .timings import Timings

log = logging.getLogger(__name__)

_BATCH_BYTES = 256 * 1024


class Watcher:
    """One open watch stream."""

    __slots__ = ("namespace", "predicate", "as_table", "include", "pending", "wake", "closed",
                 "stalled", "deadline", "after", "traced")

    def __init__(self, *, namespace: str | None, predicate: Predicate | None, as_table: bool,
                 include: str, deadline: float, after: int = 0) -> None:
        self.namespace = namespace
        self.predicate = predicate
        self.as_table = as_table
        self.include = include
        self.pending: list[bytes] = []
        self.wake = gevent.event.Event()
        self.closed = False
        self.stalled = False
        self.deadline = deadline
        self.after = after  # only changes above this resourceVersion
        self.traced: list[int] | None = None  # versions of ``pending`` (--record-timings)

    def wants(self, obj: dict[str, Any]) -> bool:
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.predicate is None or self.predicate(obj)

    def render(self, change: Change) -> bytes:
        if not self.as_table:
            return change.line()
        return table_line(change.type, change.obj, self.include)

    def offer(self, change: Change, line: bytes) -> None:
        if self.closed or self.stalled or change.rv <= self.after or not self.wants(change.obj):
            return
        self.pending.append(table_line(change.type, change.obj, self.include)
                            if self.as_table else line)
        if self.traced is not None:
            self.traced.append(change.rv)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()


def table_line(kind: str, obj: dict[str, Any], include: str) -> bytes:
    tbl = table.table([obj], resource_version=obj["metadata"]["resourceVersion"],
                      include=include)
    return orjson.dumps({"type": kind, "object": tbl}) + b"\n"


class WatchHub:
    """All open watchers; the store's listener."""

    def __init__(self, timings: Timings | None = None) -> None:
        self.watchers: set[Watcher] = set()
        self.started = 0
        self.timings = timings

    def __call__(self, change: Change) -> None:
        if self.timings is not None and change.type == "ADDED":
            self.timings.accepted(change.rv, change.obj["metadata"]["name"], time.time())
        if not self.watchers:
            return
        line = change.line()
        for w in self.watchers:
            w.offer(change, line)

    def stall_all(self) -> int:
        for w in self.watchers:
            w.stalled = True
            w.pending.clear()
        log.info("fault: stalled %d open watches", len(self.watchers))
        return len(self.watchers)

    def drop_all(self) -> int:
        n = len(self.watchers)
        for w in list(self.watchers):
            w.close()
        log.info("fault: dropped %d open watches", n)
        return n

    def stream(self, w: Watcher, initial: list[bytes], sock: socket.socket | None
               ) -> Iterator[bytes]:
        """The body of a watch response; registration already happened (atomically)."""
        detector = gevent.spawn(_detect_close, sock, w) if sock is not None else None
        timings = self.timings
        if timings is not None and w.traced is None:
            w.traced = []
        try:
            batch: list[bytes] = []
            size = 0
            for line in initial:
                batch.append(line)
                size += len(line)
                if size >= _BATCH_BYTES:
                    yield b"".join(batch)
                    batch, size = [], 0
            if batch:
                yield b"".join(batch)
            while not w.closed:
                if w.pending and not w.stalled:
                    lines, w.pending = w.pending, []
                    if timings is None:
                        yield b"".join(lines)
                        continue
                    rvs, w.traced = w.traced or [], []
                    yield b"".join(lines)
                    # pywsgi asks for the next chunk once it has written this one
                    timings.written(rvs, time.time())
                    continue
                if w.stalled:
                    # Half-open: nothing more, not even the end of the stream.
                    w.wake.clear()
                    w.wake.wait()
                    continue
                remaining = w.deadline - time.monotonic()
                if remaining <= 0:
                    break
                w.wake.clear()
                if w.pending or w.closed:
                    continue
                w.wake.wait(remaining)
        finally:
            self.watchers.discard(w)
            w.closed = True
            if detector is not None:
                detector.kill(block=False)


def _detect_close(sock: socket.socket, w: Watcher) -> None:
    # Peek at the raw TCP socket (a duplicate, so TLS sockets work too): EOF means the client
    # is gone; any bytes mean it is talking (TLS alerts, pipelining), so stop watching for EOF.
    try:
        raw = socket.fromfd(sock.fileno(), sock.family, sock.type)
    except OSError:
        return
    try:
        data = raw.recv(1, socket.MSG_PEEK)
    except OSError:
        data = b""
    finally:
        raw.close()
    if not data:
        w.close()
