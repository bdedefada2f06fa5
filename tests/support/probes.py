"""Read a running pushsvc from outside: one /metrics sample, its gunicorn worker's RSS."""

from __future__ import annotations

import urllib.request

import psutil

from tests.support.pushsvc_proc import PushsvcProcess


def metric(url: str, name: str, **labels: str) -> float:
    """The value of one sample in ``url``/metrics (0.0 when it is not there yet).

    ``metric(proc.url, "pushsvc_engine_closed_connections_total", reason="slow_reader")``
    """
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def worker_rss_bytes(proc: PushsvcProcess) -> int:
    """Resident memory of the one gunicorn worker (the master's child) of ``proc``."""
    children = psutil.Process(proc.pid).children()
    if len(children) != 1:
        raise AssertionError(f"expected one gunicorn worker under {proc.pid}, got {children}")
    return int(children[0].memory_info().rss)
