"""The notifier process of the bus scenarios: emits timestamped messages at a fixed rate.

Runs alone (``python -m bench.notifier``) so notify() shares no interpreter with
the servers or the clients. Each message's data is ``"bseq=N bt=EPOCH_MS"``
with ``bt`` taken just before the notify/emit call, so the clients measure
notify()→receipt. Prints one JSON line: sent, seconds, achieved rate, call times, and
with ``--trace`` a ``trace``: (seq, Event name, bt) per message, for the per-hop latency
budget (tens of thousands of entries: only the scenario that needs it asks).
``--batch-window`` uses the emitter's window batching; the time then includes the final
flush, so ``rate`` counts only notifications whose Events exist.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

EVENT = "nuke_response"


def _redis_sender(url: str, room: str) -> Callable[[str], str | None]:
    import socketio

    # Flask-SocketIO's default channel is "flask-socketio", python-socketio's is "socketio".
    mgr = socketio.RedisManager(url, channel="flask-socketio", write_only=True)

    def send(data: str) -> str | None:
        mgr.emit(EVENT, {"data": data}, namespace="/", room=room)
        return None

    return send


def _kube_sender(kubeconfig: str, namespace: str, channel: str, room: str,
                 batch_window: float) -> tuple[Callable[[str], str], Callable[[], None]]:
    from emitter import Emitter

    em = Emitter(kubeconfig=kubeconfig, bus_namespace=namespace, channel=channel,
                 batch_window_seconds=batch_window)

    def send(data: str) -> str:
        return em.notify(EVENT, {"data": data}, to=room or None)  # --room '': everyone

    return send, em.flush


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kind", choices=["redis", "kube"], required=True)
    p.add_argument("--url", help="redis URL")
    p.add_argument("--kubeconfig")
    p.add_argument("--namespace", default="default")
    p.add_argument("--channel", default="pushsvc")
    p.add_argument("--room", default="bench", help="'' for every client (kube only)")
    p.add_argument("--seq0", type=int, default=0)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0, help="per second; 0 = as fast as possible")
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--trace", action="store_true",
                   help="print (seq, Event name, send time) per message (the hop budget)")
    p.add_argument("--batch-window", type=float, default=0.0,
                   help="kube: the emitter's batch window in seconds (0 = unbatched)")
    args = p.parse_args(argv)
    finish: Callable[[], None] = lambda: None  # noqa: E731
    send: Callable[[str], str | None]
    if args.kind == "redis":
        send = _redis_sender(args.url, args.room)
    else:
        send, finish = _kube_sender(args.kubeconfig, args.namespace, args.channel, args.room,
                                    args.batch_window)
    # One warm-up call opens the connection; it carries no bseq and is not counted.
    send("warmup")
    finish()
    calls: list[float] = []
    trace: list[tuple[int, str | None, float]] = []  # (seq, Event name, send time in ms)
    events: set[str | None] = set()  # the kube emitter's Event names: one per etcd write
    t0 = time.perf_counter()
    deadline = t0 + args.max_seconds
    sent = 0
    for i in range(args.count):
        if args.rate:
            due = t0 + i / args.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        if time.perf_counter() > deadline:
            break
        c0 = time.perf_counter()
        bt = time.time() * 1000
        name = send(f"bseq={args.seq0 + i} bt={bt:.3f}")
        calls.append((time.perf_counter() - c0) * 1000)
        events.add(name)
        trace.append((args.seq0 + i, name, round(bt, 3)))
        sent += 1
    finish()
    seconds = time.perf_counter() - t0
    calls.sort()
    report: dict[str, object] = {
        "sent": sent, "seconds": seconds, "rate": sent / seconds if seconds else 0.0,
        "events": len(events - {None}),
        "call_ms_p50": calls[len(calls) // 2] if calls else None,
        "call_ms_p99": calls[int(len(calls) * 0.99)] if calls else None,
    }
    if args.trace:
        report["trace"] = trace
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
