"""RedisManager with its listener timed, for the baseline pods of the bus latency budget.

Loaded by bench/baseline_app.py only when the pods share redis, so the capacity and fan-out
baselines import nothing more than plain Flask-SocketIO. The hops and buckets are those of
pushsvc's ``pushsvc_bus_hop_seconds``, measured from the ``bt=`` send time the bench
notifier writes into each message (one process clock: every process runs on one machine).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import socketio
from flask import Response
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from pushsvc.bus.metrics import HOP_BUCKETS

_REGISTRY = CollectorRegistry()
_HOPS = Histogram("bench_bus_hop_seconds", "RedisManager's hops, as pushsvc_bus_hop_seconds",
                  ["hop"], buckets=HOP_BUCKETS, registry=_REGISTRY)
_SENT = re.compile(rb"bt=([0-9.]+)")


class TimedRedisManager(socketio.RedisManager):
    """Times read off redis → emitted here, for messages that carry ``bt=``."""

    def _listen(self) -> Iterator[Any]:
        for message in super()._listen():
            read = time.time()
            yield message  # PubSubManager._thread emits it before it asks for the next one
            emitted = time.time()
            found = _SENT.search(message if isinstance(message, bytes) else b"")
            if found:
                sent = float(found.group(1)) / 1000
                _HOPS.labels(hop="publish_to_read").observe(max(0.0, read - sent))
                _HOPS.labels(hop="read_to_emit").observe(max(0.0, emitted - read))
                _HOPS.labels(hop="publish_to_emit").observe(max(0.0, emitted - sent))


def metrics() -> Response:
    return Response(generate_latest(_REGISTRY), mimetype="text/plain")
