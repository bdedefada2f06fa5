"""``python -m bench [scenario ...] [--smoke]``: run the benchmarks and write the report.

Scenarios: capacity, fanout, bus, ingest, emitter, footprint (default: all, in that
order; footprint takes 10 minutes, ``--minutes`` shortens it); ``rolling`` (a rolling restart
under load with connection state recovery, several minutes at full size) runs only when
named, e.g. ``python -m bench rolling``; so do ``snapshots`` (the bus lag per second
across snapshot refreshes, three pods with recovery on, a minute or two), ``jobs`` (Job
transition → browser latency) and ``overload`` (8,000 clients over three pods, 10
notifications/s to everyone: the pods must lag, not die; ``--overload-clients``,
``--overload-rate``, ``--overload-seconds``). Writes ``latest.json``, ``table.md`` and the
PNG plots to the output folder (default bench/results/) and prints the table. ``--smoke``
runs every scenario at a tiny size (CI) and writes to ``--out`` (default
artifacts/bench/smoke/, git-ignored) so the committed full-run figures are never
overwritten by a smoke run.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    buslatency,
    capacity,
    emitter_rate,
    fanout,
    footprint,
    ingest,
    jobs_latency,
    overload,
    procs,
    report,
    rolling,
    snapshots,
)
from bench.common import FULL, ROOT, SMOKE, Context, ScenarioResult

log = logging.getLogger("bench")

SCENARIOS: dict[str, Callable[[Context], ScenarioResult]] = {
    "capacity": capacity.run,
    "fanout": fanout.run,
    "bus": buslatency.run,
    "ingest": ingest.run,
    "emitter": emitter_rate.run,
    "footprint": footprint.run,
}
#: Run only when named (long at full size).
EXTRA_SCENARIOS: dict[str, Callable[[Context], ScenarioResult]] = {
    "rolling": rolling.run,
    "snapshots": snapshots.run,
    "jobs": jobs_latency.run,
    "overload": overload.run,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, *EXTRA_SCENARIOS, []],
                   metavar="scenario",
                   help=f"one or more of {', '.join([*SCENARIOS, *EXTRA_SCENARIOS])} (default: all "
                   "but rolling)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    p.add_argument("--out", type=Path,
                   help="output folder (default bench/results, or artifacts/bench/smoke)")
    p.add_argument("--minutes", type=float,
                   help="footprint: minutes of notifications (default 10; smoke: seconds)")
    p.add_argument("--rolling-clients", type=int, help="rolling: clients (default 2000)")
    p.add_argument("--rolling-rate", type=int, help="rolling: notifications/s (default 100)")
    p.add_argument("--rolling-rooms", type=int,
                   help="rolling: spread the clients over K rooms and send each notification "
                        "to one of them in turn (default 0: every notification to everyone)")
    p.add_argument("--rolling-reconnect-delay-ms", type=int,
                   help="rolling: the clients' reconnectionDelay (default 1000, as "
                        "socket.io-client's; the first attempt comes 50-150 %% of it after a drop)")
    p.add_argument("--rolling-without-recovery", action="store_true",
                   help="rolling: recovery off (the same run without it, to compare)")
    p.add_argument("--snapshots-clients", type=int,
                   help="snapshots: clients (default 2000)")
    p.add_argument("--snapshots-seconds", type=float,
                   help="snapshots: seconds watched (default 100)")
    p.add_argument("--snapshots-interval", type=float,
                   help="snapshots: PUSHSVC_RECOVERY_SNAPSHOT_INTERVAL_SECONDS (default 30)")
    p.add_argument("--overload-clients", type=int, help="overload: clients (default 8000)")
    p.add_argument("--overload-rate", type=int,
                   help="overload: notifications/s to everyone (default 10)")
    p.add_argument("--overload-seconds", type=float,
                   help="overload: seconds of notifications (default 60)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or not args.smoke else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    out = args.out or (ROOT / "artifacts" / "bench" / "smoke" if args.smoke
                       else ROOT / "bench" / "results")
    sizes = SMOKE if args.smoke else FULL
    if args.minutes is not None:
        sizes = dataclasses.replace(sizes, footprint_seconds=60.0 * args.minutes)
    if args.rolling_clients:
        sizes = dataclasses.replace(sizes, rolling_clients=args.rolling_clients)
    if args.rolling_rate:
        sizes = dataclasses.replace(sizes, rolling_rate=args.rolling_rate)
    if args.rolling_rooms:
        sizes = dataclasses.replace(sizes, rolling_rooms=args.rolling_rooms)
    if args.rolling_reconnect_delay_ms:
        sizes = dataclasses.replace(sizes,
                                    rolling_reconnect_delay_ms=args.rolling_reconnect_delay_ms)
    for name in ("clients", "seconds", "interval"):
        value = getattr(args, f"snapshots_{name}")
        if value:
            sizes = dataclasses.replace(sizes, **{f"snapshots_{name}": value})
    for name in ("clients", "rate", "seconds"):
        value = getattr(args, f"overload_{name}")
        if value:
            sizes = dataclasses.replace(sizes, **{f"overload_{name}": value})
    if args.rolling_without_recovery:
        sizes = dataclasses.replace(sizes, rolling_recovery=False)
    ctx = Context(sizes=sizes, out_dir=out,
                  log_dir=out / "logs" if args.out else ROOT / "artifacts" / "bench",
                  smoke=args.smoke)
    names = args.scenarios or list(SCENARIOS)
    nofile = procs.raise_own_limits()
    log.info("file-descriptor limit %d for the benchmark and its children", nofile)
    m = report.machine()
    results: list[ScenarioResult] = []
    for name in names:
        t0 = time.monotonic()
        log.info("scenario %s started", name)
        results.append({**SCENARIOS, **EXTRA_SCENARIOS}[name](ctx))
        log.info("scenario %s done in %.0f s", name, time.monotonic() - t0)
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(out / "latest.json", m, results, smoke=args.smoke)
    text = report.table(results)
    notes = [n for r in results for n in r.notes] + [
        f"ERROR: {e}" for r in results for e in r.errors]
    (out / "table.md").write_text(
        f"{report.machine_line(m)}\n\n{text}\n" + "".join(f"\n- {n}" for n in notes) + "\n")
    pngs = report.plots(out, results)
    print(report.machine_line(m))
    print(text)
    for n in notes:
        print(f"- {n}")
    print(f"wrote {out / 'latest.json'}" + "".join(f", {p.name}" for p in pngs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
