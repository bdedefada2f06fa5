"""Scenario 5, emitter: notifications per second from one process reusing one connection.

pushsvc: ``emitter`` creating Events on the API emulator, one client object for
the whole run. Baseline: a write-only ``RedisManager`` publishing to a local
redis-server. Each side runs in its own process (bench.notifier) as fast as it
can for a bounded count and time.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

from bench import procs
from bench.buslatency import CHANNEL, NAMESPACE, _notify, start_emulator
from bench.common import Context, Row, ScenarioResult

log = logging.getLogger(__name__)


def run(ctx: Context) -> ScenarioResult:
    sz = ctx.sizes
    result = ScenarioResult("emitter")
    common = ["--seq0", "0", "--count", str(sz.emitter_max), "--rate", "0",
              "--max-seconds", str(sz.emitter_seconds)]
    pushsvc = baseline = None
    with ExitStack() as stack:
        emu = start_emulator(ctx, stack)
        if emu is None:
            result.notes.append("emitter: the emulator is not available yet: pushsvc column empty")
        else:
            cpu0 = emu.cpu_seconds()
            pushsvc = _notify(["--kind", "kube", "--kubeconfig", str(emu.kubeconfig),
                               "--namespace", NAMESPACE, "--channel", CHANNEL, *common],
                              timeout=sz.emitter_seconds + 60)
            pushsvc["emulator_cpu_s"] = emu.cpu_seconds() - cpu0
    with procs.redis_server(ctx.log_dir) as url:
        baseline = _notify(["--kind", "redis", "--url", url, *common],
                           timeout=sz.emitter_seconds + 60)
    result.raw = {"pushsvc": pushsvc, "baseline": baseline}
    result.rows.append(Row("emitter notifications/s (one process, one connection)",
                           None if pushsvc is None else pushsvc["rate"], baseline["rate"], "/s",
                           target=">= 500/s", baseline_name="RedisManager"))
    if pushsvc:
        result.rows.append(Row("emulator CPU per notification",
                               1e6 * pushsvc["emulator_cpu_s"] / max(1, pushsvc["sent"]), None,
                               "us", higher_is_better=False, baseline_name="-"))
    return result
