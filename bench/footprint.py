"""Scenario footprint: what the bus leaves in etcd at a steady notification rate.

A notifier sends ``footprint_rate`` notifications/s (unbatched: one Event each, the worst case)
for ``footprint_seconds`` to the API emulator, with two pods watching and the retention janitor
(elected by a Lease) deleting bus Events older than ``footprint_retention`` seconds. Sampled over
time: live bus Events and their bytes, the time of a relist as a pod does it (the watcher's own
paged list), the pods' and the emulator's RSS. Then, at the same rate, the batched emitter
(5 ms window) for Event writes per notification, and the batched emitter flat out. A relist of
the last steady state is also timed with the pods stopped (an otherwise idle API server).

Targets: live Events under 1.2 x rate x retention; relist of the steady state under 1 s;
batched emitter >= 5,000 notifications/s from one process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from typing import Any

import orjson
import psutil

from bench import procs
from bench.buslatency import CHANNEL, NAMESPACE, _notify, kube_bus_env, start_emulator
from bench.common import Context, Row, ScenarioResult, percentile

log = logging.getLogger(__name__)


def _scrape(url: str) -> dict[str, float]:
    """The janitor's samples from one pod's /metrics (name{labels} -> value)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith(("pushsvc_janitor", "pushsvc_bus_live_events")):
            continue
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = float(s.value)
    return out


def _relist(kubeconfig: str) -> dict[str, float]:
    """A full paged list of the bus Events the way a pod's watcher relists: count, bytes, s."""
    from kubernetes import config

    from emitter.codec import label_selector
    from pushsvc.bus.watcher import KubeTransport

    api_client = config.new_client_from_config(config_file=kubeconfig)
    try:
        transport = KubeTransport(api_client, namespace=NAMESPACE,
                                  label_selector=label_selector(CHANNEL), timeout_seconds=60,
                                  read_timeout_seconds=60)
        count = pages = size = 0
        busy = 0.0  # time spent sizing items, not part of a pod's relist
        t0 = time.perf_counter()
        for page in transport.list_pages():
            pages += 1
            count += len(page.items)
            s0 = time.perf_counter()
            size += sum(len(orjson.dumps(item)) for item in page.items)
            busy += time.perf_counter() - s0
        return {"events": count, "bytes": size, "seconds": time.perf_counter() - t0 - busy,
                "pages": pages}
    finally:
        api_client.close()


def _kill_if_running(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _creates_at(samples: list[dict[str, Any]], t: float) -> int:
    """Event creates counted by the emulator at time ``t`` (the last sample not after it)."""
    before = [s["creates"] for s in samples if s["t"] <= t]
    return int(before[-1]) if before else 0


def run(ctx: Context) -> ScenarioResult:
    sz = ctx.sizes
    result = ScenarioResult("footprint")
    rate, seconds, retention = sz.footprint_rate, sz.footprint_seconds, sz.footprint_retention
    interval = retention / 10  # the janitor's pass (PUSHSVC_RETENTION_SECONDS / 10)
    load0 = os.getloadavg()[0]
    samples: list[dict[str, Any]] = []
    relists: list[dict[str, Any]] = []
    with ExitStack() as stack:
        emu = start_emulator(ctx, stack)
        if emu is None:
            result.errors.append("footprint: the emulator is not available")
            return result
        env = {**kube_bus_env(emu), "PUSHSVC_RETENTION_SECONDS": str(retention)}
        pods = []
        for k in range(2):
            pod = procs.start_pushsvc(log_dir=ctx.log_dir, connections=100, name=f"fp-pod{k}",
                                      extra_env={**env, "PUSHSVC_POD_NAME": f"pushsvc-{k}"})
            stack.callback(pod.stop)
            pods.append(pod)
        emu_proc = psutil.Process(emu.api.pid)
        kube = ["--kind", "kube", "--kubeconfig", str(emu.kubeconfig), "--namespace", NAMESPACE,
                "--channel", CHANNEL]
        notifier = subprocess.Popen(
            [sys.executable, "-m", "bench.notifier", *kube, "--rate", str(rate),
             "--count", str(int(rate * seconds)), "--max-seconds", str(seconds)],
            cwd=procs.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stack.callback(_kill_if_running, notifier)
        t0 = time.monotonic()
        next_relist = t0 + sz.footprint_relist_every
        log.info("footprint: %d notifications/s for %.0f s, retention %.0f s", rate, seconds,
                 retention)
        while notifier.poll() is None and time.monotonic() - t0 < seconds + 60:
            time.sleep(sz.footprint_sample_every)
            t = time.monotonic() - t0
            stats = emu.api.stats()
            samples.append({"t": t, "events": stats["stored_events"],
                            "creates": stats["creates"],
                            "emulator_rss": emu_proc.memory_info().rss,
                            "pod_rss": [p.rss() for p in pods]})
            if time.monotonic() >= next_relist:
                next_relist += sz.footprint_relist_every
                listed = _relist(str(emu.kubeconfig))
                relists.append({"t": t, **listed})
                samples[-1]["bytes"] = listed["bytes"]
                log.info("footprint t=%4.0fs live %6d Events %6.1f MiB, relist %.3f s", t,
                         listed["events"], listed["bytes"] / 2**20, listed["seconds"])
        out, err = notifier.communicate(timeout=60)
        if notifier.returncode != 0:
            result.errors.append(f"footprint notifier failed: {err.strip()[-500:]}")
            return result
        sent = json.loads(out.strip().splitlines()[-1])
        janitor = [_scrape(p.url) for p in pods]
        creates = emu.api.stats()["creates"]
        # The same Events listed by an API server with nothing else to do (pods stopped, no
        # notifier): what a relist costs apart from the machine's and the server's load.
        for pod in pods:
            pod.stop()
        idle = [_relist(str(emu.kubeconfig)) for _ in range(3)]
        batched = _notify([*kube, "--rate", str(rate), "--count",
                           str(int(rate * sz.footprint_batched_seconds)), "--max-seconds",
                           str(sz.footprint_batched_seconds), "--batch-window", "0.005"],
                          timeout=sz.footprint_batched_seconds + 60)
        flat_out = _notify([*kube, "--rate", "0", "--count", str(sz.emitter_batched_max),
                            "--max-seconds", str(sz.emitter_seconds), "--batch-window", "0.005"],
                           timeout=sz.emitter_seconds + 60)
    # The bound follows the rate the notifier really achieved (a loaded machine falls short).
    achieved = float(sent["rate"])
    bound = 1.2 * achieved * retention
    # Steady state: once the first Events are past retention plus two janitor passes.
    steady_from = retention + 2 * interval
    steady = [s for s in samples if s["t"] >= steady_from] or samples[-1:]
    steady_lists = [r for r in relists if r["t"] >= steady_from] or relists[-1:]
    live_max = max(s["events"] for s in steady) if steady else None
    # Rate-independent check (a loaded machine's notifier does not hold its rate): live
    # Events against the Events created within the last retention window.
    ratios = [s["events"] / w for s in steady
              if (w := s["creates"] - _creates_at(samples, s["t"] - retention)) > 0]
    bytes_max = max((r["bytes"] for r in steady_lists), default=None)
    relist_s = [r["seconds"] for r in steady_lists]
    deletions = {k: sum(j.get(k, 0.0) for j in janitor) for k in
                 {k for j in janitor for k in j if k.startswith("pushsvc_janitor_deletions_total")}}
    result.raw = {"rate": rate, "achieved_rate": achieved, "seconds": seconds,
                  "retention": retention,
                  "janitor_interval": interval, "bound": bound, "samples": samples,
                  "relists": relists, "idle_relists": idle, "notifier": sent, "batched": batched,
                  "batched_flat_out": flat_out, "janitor": janitor, "deletions": deletions,
                  "emulator_creates": creates}
    result.rows += [
        Row(f"live bus Events, steady state ({achieved:.0f}/s achieved, retention "
            f"{retention:g} s), max", live_max, achieved * 3600.0, "",
            target=f"< {bound:,.0f} (1.2 x rate x retention)", higher_is_better=False,
            baseline_name="no janitor (1 h TTL)"),
        Row("live bus Events / Events created in the last retention window, max",
            max(ratios) if ratios else None, None, "", target="< 1.2", higher_is_better=False,
            baseline_name="-"),
        Row("live bus Event bytes, steady state (max)",
            None if bytes_max is None else bytes_max / 2**20, None, "MiB",
            higher_is_better=False, baseline_name="-"),
        Row("relist of the steady state (paged, as a pod), p50",
            percentile(relist_s, 50) if relist_s else None, None, "s", target="< 1 s",
            higher_is_better=False, baseline_name="-"),
        Row("relist of the steady state, max", max(relist_s) if relist_s else None, None, "s",
            target="< 1 s", higher_is_better=False, baseline_name="-"),
        Row(f"relist, idle API server ({idle[0]['events']:,} Events), p50",
            percentile([r["seconds"] for r in idle], 50), None, "s", target="< 1 s",
            higher_is_better=False, baseline_name="-"),
        Row("Event writes per notification, unbatched", sent["events"] / max(1, sent["sent"]),
            1.0, "", higher_is_better=False, baseline_name="one per notification"),
        Row(f"Event writes per notification, batched 5 ms at {rate}/s",
            batched["events"] / max(1, batched["sent"]), 1.0, "", higher_is_better=False,
            baseline_name="one per notification"),
        Row("Event writes per notification, batched 5 ms, flat out",
            flat_out["events"] / max(1, flat_out["sent"]), 1.0, "", higher_is_better=False,
            baseline_name="one per notification"),
        Row("batched emitter notifications/s (5 ms window, flat out)", flat_out["rate"], None,
            "/s", target=">= 5000/s", baseline_name="-"),
        Row("pod worker RSS at the steady state (max of 2)",
            max(max(s["pod_rss"]) for s in steady) / 2**20 if steady else None, None, "MiB",
            higher_is_better=False, baseline_name="-"),
        Row("emulator RSS at the steady state", max(s["emulator_rss"] for s in steady) / 2**20
            if steady else None, None, "MiB", higher_is_better=False, baseline_name="-"),
    ]
    outcomes = ", ".join(f"{k.split('=')[-1].rstrip('}')} {v:.0f}"
                         for k, v in sorted(deletions.items()))
    result.notes.append(
        f"footprint: {sent['sent']} notifications in {sent['seconds']:.0f} s "
        f"({sent['rate']:.1f}/s), {creates} Event creates; janitor deletes: {outcomes}; "
        f"steady state from t={steady_from:.0f} s; load average {load0:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at the end (shared machine)")
    return result


def plot(out_dir: Any, result: ScenarioResult) -> Any:
    """live bus Events and MiB over time, with the 1.2 x rate x retention bound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    raw = result.raw
    samples = raw.get("samples") or []
    if not samples:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot([s["t"] / 60 for s in samples], [s["events"] for s in samples], color="tab:blue",
            label="live bus Events")
    if all("creates" in s for s in samples):
        window = [1.2 * (s["creates"] - _creates_at(samples, s["t"] - raw["retention"]))
                  for s in samples]
        ax.plot([s["t"] / 60 for s in samples], window, color="tab:red", linestyle="--",
                label="1.2 x Events created in the last retention")
    else:
        ax.axhline(raw["bound"], color="tab:red", linestyle="--",
                   label=f"1.2 x rate x retention = {raw['bound']:,.0f}")
    ax.set_xlabel("minutes")
    ax.set_ylabel("live bus Events")
    rate = raw.get("achieved_rate", raw["rate"])
    ax.set_title(f"Bus footprint: {rate:.0f} notifications/s, retention {raw['retention']:g} s")
    ax.grid(alpha=0.3)
    relists = raw.get("relists") or []
    if relists:
        ax2 = ax.twinx()
        ax2.plot([r["t"] / 60 for r in relists], [r["bytes"] / 2**20 for r in relists],
                 marker=".", linestyle=":", color="tab:green", label="MiB (relist)")
        ax2.set_ylabel("MiB of live bus Events")
        ax2.set_ylim(bottom=0)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="lower right")
    else:
        ax.legend(fontsize=8)
    ax.set_ylim(bottom=0)
    path = out_dir / "footprint_over_time.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
