"""A separate notifier process for the fault tests: emits numbered messages with the emitter.

``python -m tests.bus.stream_notifier --kubeconfig K --namespace NS --count N --tag T``
prints ``sent I`` every ``--every`` messages (so the test can inject a fault mid-stream) and
``done N`` at the end. Messages are ``seq`` events with ``{"tag": T, "n": i}`` to everyone
(or ``--room``); ``--threads`` emitters share the numbers.
"""

from __future__ import annotations

import argparse
import sys
import threading

from emitter import Emitter, PushError


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--room")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--deadline", type=float, default=120.0)
    args = p.parse_args()
    lock = threading.Lock()
    sent = 0
    failures: list[str] = []

    def worker(k: int) -> None:
        nonlocal sent
        emitter = Emitter(kubeconfig=args.kubeconfig, bus_namespace=args.namespace,
                          retry_deadline_seconds=args.deadline)
        with emitter:
            for n in range(k, args.count, args.threads):
                try:
                    emitter.notify("seq", {"tag": args.tag, "n": n}, to=args.room)
                except PushError as exc:
                    failures.append(f"{n}: {exc}")
                    return
                with lock:
                    sent += 1
                    if sent % args.every == 0:
                        print(f"sent {sent}", flush=True)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print(f"failed {failures[0]}", flush=True)
        return 1
    print(f"done {sent}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
