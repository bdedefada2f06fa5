"""Scenario 5, emitter: notifications per second from one process reusing one connection.

pushsvc: ``emitter`` creating Events on the API emulator, one client object for
the whole run. Baseline: a write-only ``RedisManager`` publishing to a local
redis-server. Each side runs in its own process (bench.notifier) as fast as it
can for a bounded count and time. The batched row is the same emitter with a 5 ms batch
window (``batch_window_seconds=0.005``): notifications share Events of up to 50 messages; its
time includes the final flush.
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
    batched_args = ["--seq0", "0", "--count", str(sz.emitter_batched_max), "--rate", "0",
                    "--max-seconds", str(sz.emitter_seconds), "--batch-window", "0.005"]
    pushsvc = baseline = batched = None
    with ExitStack() as stack:
        emu = start_emulator(ctx, stack)
        if emu is None:
            result.notes.append("emitter: the emulator is not available yet: pushsvc column empty")
        else:
            kube = ["--kind", "kube", "--kubeconfig", str(emu.kubeconfig),
                    "--namespace", NAMESPACE, "--channel", CHANNEL]
            cpu0 = emu.cpu_seconds()
            pushsvc = _notify([*kube, *common], timeout=sz.emitter_seconds + 60)
            pushsvc["emulator_cpu_s"] = emu.cpu_seconds() - cpu0
            batched = _notify([*kube, *batched_args], timeout=sz.emitter_seconds + 60)
    with procs.redis_server(ctx.log_dir) as url:
        baseline = _notify(["--kind", "redis", "--url", url, *common],
                           timeout=sz.emitter_seconds + 60)
    result.raw = {"pushsvc": pushsvc, "baseline": baseline, "batched": batched}
    result.rows.append(Row("emitter notifications/s (one process, one connection)",
                           None if pushsvc is None else pushsvc["rate"], baseline["rate"], "/s",
                           target=">= 500/s", baseline_name="RedisManager"))
    result.rows.append(Row("emitter notifications/s, batched (5 ms window)",
                           None if batched is None else batched["rate"], baseline["rate"], "/s",
                           target=">= 5000/s", baseline_name="RedisManager"))
    if batched:
        result.rows.append(Row("Event writes per notification, batched",
                               batched["events"] / max(1, batched["sent"]), 1.0, "",
                               higher_is_better=False, baseline_name="unbatched"))
    if pushsvc:
        result.rows.append(Row("emulator CPU per notification",
                               1e6 * pushsvc["emulator_cpu_s"] / max(1, pushsvc["sent"]), None,
                               "us", higher_is_better=False, baseline_name="-"))
    return result
