"""Read a running pushsvc from outside: one /metrics sample, its gunicorn worker's RSS."""

from __future__ import annotations

import re
import urllib.request

import psutil

from tests.support.pushsvc_proc import PushsvcProcess

_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` in ``url``/metrics whose labels include ``labels``
    (0.0 when there is none yet).

    ``metric(proc.url, "pushsvc_engine_closed_connections_total", reason="slow_reader")``;
    ``metric(proc.url, "pushsvc_refused_connections_total")`` sums every reason.
    """
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if not (line.startswith(name + " ") or line.startswith(name + "{")):
            continue
        head, value = line.rsplit(" ", 1)
        found = dict(_LABEL.findall(head[len(name):]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


def worker_rss_bytes(proc: PushsvcProcess) -> int:
    """Resident memory of the one gunicorn worker (the master's child) of ``proc``."""
    children = psutil.Process(proc.pid).children()
    if len(children) != 1:
        raise AssertionError(f"expected one gunicorn worker under {proc.pid}, got {children}")
    return int(children[0].memory_info().rss)
