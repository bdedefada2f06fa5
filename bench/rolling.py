"""``python -m bench rolling``: a rolling restart under load, with connection state recovery.

Three pods behind the shipped HAProxy config on the emulated Kubernetes bus, recovery on.
N WebSocket clients (bench/rollingclient.js: the socket.io-client >= 4.6 recovery protocol and
its reconnection backoff) receive R numbered notifications/s from an ``emitter.Emitter``
(batched as ``pushsvc-notify --stdin``), each to everyone or (``--rolling-rooms K``) to one of
K rooms in turn. Each pod in turn gets SIGTERM (the Deployment's 5 s shutdown delay, then the
drain: ``server_shutdown``, connections closed), exits, starts again and is UP in HAProxy
before the next one. Reported: messages lost and duplicated over all clients, sessions
recovered vs new, the time from a client's drop to its next CONNECT (max, p99) and where it
went, the end-to-end delay of live messages (the bus lag a client sees), the drain times, and
the bus Events the run left in etcd (how many carry session snapshots).
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Context, Row, ScenarioResult
from bench.procs import ROOT
from pushsvc.testing.procs import wait_until
from pushsvc.testing.topology import BUS_NAMESPACE, LocalTopology

log = logging.getLogger(__name__)

CLIENT = ROOT / "bench" / "rollingclient.js"
SOURCES = [f"127.0.0.{i}" for i in range(2, 42)]
POD_ENV = {
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "bench-rolling-recovery-secret",
    "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "10",
    # What the Deployment's 5 s preStop sleep does in a cluster: the pod keeps serving with
    # readiness false until HAProxy's checks (inter 2 s, fall 2) take it out, so the clients
    # it then disconnects reconnect to another pod instead of being refused by this one.
    "PUSHSVC_SHUTDOWN_DELAY_SECONDS": "5",
    # Every client comes through HAProxy's one address; the per-address limits are not
    # what this measures.
    "PUSHSVC_MAX_SESSIONS_PER_ADDRESS": "100000",
    "PUSHSVC_HANDSHAKES_PER_SECOND_PER_ADDRESS": "100000",  # burst: 5 s of it
    "PUSHSVC_LOG_LEVEL": "WARNING",
}


class _Notifier:
    """An ``emitter.Emitter`` (5 ms batch window, as ``pushsvc-notify --stdin``) sending
    ``rate`` numbered broadcasts per second from a thread of this process."""

    def __init__(self, topology: LocalTopology, rate: int, rooms: int) -> None:
        from emitter import Emitter

        assert topology.notifier_kubeconfig is not None
        self.rate = rate
        self.rooms = rooms
        self.sent = 0
        self._stop = threading.Event()
        self._emitter = Emitter(kubeconfig=str(topology.notifier_kubeconfig),
                                bus_namespace=BUS_NAMESPACE, batch_window_seconds=0.005)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            due = int((time.monotonic() - start) * self.rate)
            while self.sent < due:
                self.sent += 1
                self._emitter.notify("nuke_response", {
                    "data": f"bseq={self.sent} bt={time.time() * 1000:.1f}"},
                    room=f"bench-{self.sent % self.rooms}" if self.rooms else None)
            time.sleep(0.005)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=10)
        self._emitter.close()
        return self.sent


def _clients(topology: LocalTopology, n: int, max_seq: int, rooms: int,
             delay_ms: int) -> subprocess.Popen[str]:
    config = {"url": topology.url, "n": n, "sources": SOURCES, "maxSeq": max_seq,
              "delayMs": delay_ms, "rooms": rooms}
    return subprocess.Popen(["node", str(CLIENT), json.dumps(config)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _line(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()  # type: ignore
                                                        ), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        raise TimeoutError("the rolling clients did not answer")
    answer: dict[str, Any] = json.loads(box[0])
    return answer


def _bus_footprint(kubeconfig: Path) -> dict[str, int]:
    """The bus Events in etcd after the run (retention outlasts it): what recovery added."""
    import orjson
    from kubernetes import config

    from emitter.codec import decode_event, label_selector
    from emitter.model import EmitMessage
    from pushsvc.bus.watcher import KubeTransport
    from pushsvc.recovery import SNAPSHOT_NAMESPACE
    from pushsvc.settings import Settings

    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    found = {"events": 0, "bytes": 0, "snapshot_events": 0, "snapshot_records": 0,
             "snapshot_bytes": 0, "messages": 0}
    try:
        transport = KubeTransport(api_client, namespace=BUS_NAMESPACE,
                                  label_selector=label_selector(Settings().bus_channel),
                                  timeout_seconds=60, read_timeout_seconds=60)
        for page in transport.list_pages():
            for item in page.items:
                size = len(orjson.dumps(item))
                found["events"] += 1
                found["bytes"] += size
                messages = decode_event(item).messages
                snapshots = [m for m in messages if isinstance(m, EmitMessage)
                             and m.namespace == SNAPSHOT_NAMESPACE]
                found["messages"] += len(messages) - len(snapshots)
                if snapshots:
                    found["snapshot_events"] += 1
                    found["snapshot_bytes"] += size
                    found["snapshot_records"] += sum(
                        len(m.data[0]) for m in snapshots
                        if m.data and isinstance(m.data[0], list))
    finally:
        api_client.close()
    return found


def _cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat: user nice system idle iowait irq softirq
    steal); empty where there is no /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            return [int(v) for v in f.readline().split()[1:9]]
    except OSError:
        return []


def _cpu_share(start: list[int], end: list[int]) -> dict[str, float]:
    delta = [b - a for a, b in zip(start, end, strict=False)]
    total = sum(delta) or 1
    if len(delta) < 8:
        return {"busy": float("nan"), "steal": float("nan")}
    idle = delta[3] + delta[4]
    return {"busy": 100.0 * (total - idle) / total, "steal": 100.0 * delta[7] / total}


def _is_up(topology: LocalTopology, name: str) -> Callable[[], bool]:
    return lambda: topology.server_states()[name].status == "UP"


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("rolling")
    n, rate, rooms = ctx.sizes.rolling_clients, ctx.sizes.rolling_rate, ctx.sizes.rolling_rooms
    workdir = (ctx.log_dir / "rolling").resolve()  # pods run in it: absolute paths
    max_seq = rate * 600
    drains: list[float] = []
    env = {**POD_ENV, "PUSHSVC_RECOVERY_ENABLED": str(ctx.sizes.rolling_recovery).lower()}
    cpu_start = _cpu_times()
    with LocalTopology(Path(workdir), bus="kubernetes", pod_env=env) as topology:
        clients = _clients(topology, n, max_seq, rooms, ctx.sizes.rolling_reconnect_delay_ms)
        try:
            up = _line(clients, timeout=120)
            log.info("%d clients connected", up["connected"])
            notifier = _Notifier(topology, rate, rooms)
            time.sleep(3)
            for index, name in enumerate(topology.server_names):
                t0 = time.monotonic()
                topology.pods[index].stop(signal.SIGTERM, timeout=60)
                drains.append(time.monotonic() - t0)
                topology.restart_pod(index)
                wait_until(_is_up(topology, name), timeout=60,
                           what=f"HAProxy to mark {name} UP")
                log.info("pod %s restarted (drain %.1f s)", name, drains[-1])
                time.sleep(2)
            time.sleep(3)
            sent = notifier.stop()
            time.sleep(5)  # the last notifications reach every client
            assert clients.stdin is not None
            clients.stdin.write(json.dumps({"cmd": "stats", "upto": sent}) + "\n")
            clients.stdin.flush()
            stats = _line(clients, timeout=60)
            assert topology.api_kubeconfig is not None
            footprint = _bus_footprint(topology.api_kubeconfig)
        finally:
            if clients.poll() is None and clients.stdin is not None:
                try:
                    clients.stdin.write('{"cmd":"quit"}\n')
                    clients.stdin.flush()
                    clients.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    clients.kill()
    result.raw = {"clients": n, "rate": rate, "rooms": rooms,
                  "reconnect_delay_ms": ctx.sizes.rolling_reconnect_delay_ms, "sent": sent,
                  "drain_seconds": drains, "bus": footprint, **stats}
    result.rows = [
        Row(f"lost of {sent} x {n} deliveries", stats["lost"], None, "msgs", target="0",
            higher_is_better=False, baseline_name="-"),
        Row("duplicated", stats["dups"], None, "msgs", target="0", higher_is_better=False,
            baseline_name="-"),
        Row("sessions recovered / new", stats["recovered"], stats["newSessions"], "sessions",
            baseline_name="new sessions"),
        Row("drop to CONNECT, max", stats["backMaxMs"], None, "ms", target="<= 5000",
            higher_is_better=False, baseline_name="-"),
        Row("drop to CONNECT, p99", stats["backP99Ms"], None, "ms", higher_is_better=False,
            baseline_name="-"),
        Row("live delivery delay (bus lag), max", stats["liveMaxMs"], None, "ms",
            higher_is_better=False, baseline_name="-"),
        Row("live delivery delay (bus lag), p99", stats["liveP99Ms"], None, "ms",
            higher_is_better=False, baseline_name="-"),
        Row("bus Events in etcd after the run", footprint["events"], None, "Events",
            higher_is_better=False, baseline_name="-"),
        Row("their size", footprint["bytes"] / 2**20, None, "MiB", higher_is_better=False,
            baseline_name="-"),
        Row("of which Events carrying session snapshots", footprint["snapshot_events"], None,
            "Events", higher_is_better=False, baseline_name="-"),
        Row("their size", footprint["snapshot_bytes"] / 2**20, None, "MiB",
            higher_is_better=False, baseline_name="-"),
        Row("pod drain (SIGTERM to exit), max", max(drains) if drains else None, None, "s",
            higher_is_better=False, baseline_name="-"),
    ]
    cpu = _cpu_share(cpu_start, _cpu_times())
    result.raw["cpu"] = cpu
    result.notes.append(
        f"rolling: the machine was {cpu['busy']:.0f} % busy over the run ({cpu['steal']:.1f} % "
        "stolen by the hypervisor): every pod, HAProxy, the emulator and the clients share "
        "its cores")
    result.notes.append(
        f"rolling: recovery {'on' if ctx.sizes.rolling_recovery else 'OFF'}, {n} clients, "
        f"{rate} notifications/s to "
        f"{f'one of {rooms} rooms in turn' if rooms else 'everyone'}, {stats['drops']} drops, "
        f"{stats['replayed']} messages replayed by recoveries, {stats['refused']} connects "
        "refused while a pod drained (the client retried)")
    return result
