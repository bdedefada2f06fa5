"""``python -m bench.presence``: what presence across pods costs at N connections (issue 24).

Three ``pushsvc serve`` pods on the Kubernetes API emulator, N WebSocket clients (the Node load
client, bench/loadclient.js) spread over them, all in one room. For ``--seconds`` it reads:
the Lease writes per second the emulator received (every pod's summaries), the bytes the
Leases take in the emulator's store (etcd's share), each pod's worker CPU per second, and the
staleness each pod reports (the age of the oldest other pod's summary, sampled every second).
A python-socketio client in the room then asks the room's presence: the count must be N + 1.
``--presence off`` runs the same with presence disabled, for the CPU it costs.

    .venv/bin/python -m bench.presence --clients 20000 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.loadclient import LoadClient
from bench.procs import Server, start_pushsvc
from bench.report import machine, machine_line
from pushsvc.testing.kubeapi import start_kubeapi

log = logging.getLogger("bench.presence")

ROOT = Path(__file__).resolve().parent.parent
NS = "pushsvc"
ROOM = "bench-presence"
RBAC = "\n---\n".join((ROOT / "rbac" / f).read_text() for f in ("api.yaml", "notifier.yaml"))


def _metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _ask(url: str, expected: int) -> dict[str, Any]:
    import socketio

    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["websocket"], wait_timeout=30)
    try:
        client.call("join", {"room": ROOM}, timeout=30)
        answer: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = client.call("pushsvc_presence", {"room": ROOM}, timeout=30)
            if answer.get("count") == expected:
                break
            time.sleep(1)
        return answer
    finally:
        client.disconnect()


def run(*, clients: int, seconds: float, presence: bool, interval: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-presence-") as tmp, \
            start_kubeapi(Path(tmp) / "kubeapi") as api:
        api.set_rbac(RBAC)
        per_pod = -(-clients // 3)
        env = {"PUSHSVC_BUS": "kubernetes", "PUSHSVC_BUS_NAMESPACE": NS,
               "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for(NS, "pushsvc-api")),
               "PUSHSVC_JANITOR": "false", "PUSHSVC_PRESENCE": str(presence).lower(),
               "PUSHSVC_PRESENCE_INTERVAL_SECONDS": f"{interval:g}",
               "PUSHSVC_MAX_SESSIONS_PER_ADDRESS": "100000",
               "PUSHSVC_HANDSHAKES_PER_SECOND_PER_ADDRESS": "100000"}  # burst: 5 s of it
        pods: list[Server] = []
        loads: list[LoadClient] = []
        try:
            for k in range(3):
                pods.append(start_pushsvc(log_dir=Path(tmp), connections=per_pod + 500,
                                          extra_env={**env, "PUSHSVC_POD_NAME": f"pod-{k}"},
                                          name=f"pod-{k}"))
            for pod in pods:
                loads.append(LoadClient(pod.url, room=ROOM, shards=max(1, -(-per_pod // 10000))))
            connected = int(sum(load.connect(min(per_pod, clients - i * per_pod),
                                         deadline_seconds=600)["added"]
                                for i, load in enumerate(loads)))
            log.info("%d clients connected; measuring %.0f s", connected, seconds)
            time.sleep(3 * interval)  # every pod's summary carries its clients
            before = api.stats()
            cpu0 = [pod.cpu_seconds() for pod in pods]
            staleness: list[float] = []
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                time.sleep(1.0)
                if presence:
                    staleness.append(max(_metric(p.url, "pushsvc_presence_staleness_seconds")
                                         for p in pods))
            elapsed = time.monotonic() - start
            after = api.stats()
            cpu = [(pod.cpu_seconds() - c) / elapsed for pod, c in zip(pods, cpu0, strict=True)]
            result: dict[str, Any] = {
                "clients": connected, "seconds": round(elapsed, 1), "presence": presence,
                "interval_s": interval,
                "lease_writes_per_s": round((after.get("lease_writes", 0)
                                             - before.get("lease_writes", 0)) / elapsed, 2),
                "event_creates_per_s": round((after["creates"] - before["creates"]) / elapsed,
                                             2),
                "stored_leases": after.get("stored_leases", 0),
                "lease_bytes": after.get("lease_bytes", 0),
                "cpu_per_pod_percent": [round(100 * c, 1) for c in cpu],
                "emulator_cpu_percent": round(100 * (after["cpu_seconds"]
                                                     - before["cpu_seconds"]) / elapsed, 1),
            }
            if presence:
                result["staleness_s_max"] = round(max(staleness, default=0.0), 2)
                result["staleness_s_mean"] = round(sum(staleness) / max(1, len(staleness)), 2)
                result["summary_bytes"] = [_metric(p.url, "pushsvc_presence_summary_bytes")
                                           for p in pods]
                answer = _ask(pods[0].url, connected + 1)
                result["answer"] = {k: answer.get(k) for k in ("count", "truncated", "pods")}
                result["answer"]["listed"] = len(answer.get("members") or [])
            return result
        finally:
            for load in loads:
                load.close()
            for pod in pods:
                pod.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.presence", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--presence", choices=["on", "off", "both"], default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(machine_line(machine()), f"load average {os.getloadavg()[0]:.1f}", flush=True)
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.presence]
    for mode in modes:
        result = run(clients=args.clients, seconds=args.seconds, presence=mode,
                     interval=args.interval)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
