"""The local three-pod topology: the shipped HAProxy config in front of real pushsvc processes.

``pushsvc demo`` (and ``make demo``) brings up on loopback what the manifests build
in a cluster: the Kubernetes API emulator with ``rbac/`` loaded, three ``pushsvc
serve`` processes on the Kubernetes Events bus (ServiceAccount ``pushsvc-api``),
HAProxy running ``haproxy/haproxy.cfg`` and a notifier (ServiceAccount
``pushsvc-notifier``) calling ``pushsvc-notify`` every few seconds. The tests in
tests/deploy/ use the same ``LocalTopology``.

The HAProxy config is not a second hand-written file: ``render_local_haproxy_config``
takes the shipped one and changes only addresses — the frontend and stats ``bind``
addresses (free loopback ports) and each ``server`` address (a local pod) — so
whatever the topology proves about stickiness, timeouts and health checks holds for
the shipped file.

This needs a source checkout: the emulator lives with the tests (``tests.kubeapi``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_HAPROXY_CFG = REPO_ROOT / "haproxy" / "haproxy.cfg"
RBAC_DIR = REPO_ROOT / "rbac"

FRONTEND_SECTION = "frontend fe_pushsvc"
BACKEND_SECTION = "backend be_pushsvc"
STATS_SECTION = "listen stats"
BUS_NAMESPACE = "pushsvc"
API_SERVICE_ACCOUNT = "pushsvc-api"
NOTIFIER_SERVICE_ACCOUNT = "pushsvc-notifier"

_SECTION_RE = re.compile(r"^(global|defaults|frontend|backend|listen|resolvers|userlist|peers)\b")
_SERVER_RE = re.compile(r"^(?P<indent>\s+)server\s+(?P<name>\S+)\s+(?P<addr>\S+)(?P<rest>.*)$")
_BIND_RE = re.compile(r"^(?P<indent>\s+)bind\s+(?P<addr>\S+)(?P<rest>.*)$")


class TopologyError(RuntimeError):
    """A part of the local topology did not start (the message says which, and its log)."""


# --------------------------------------------------------------------------- HAProxy config


def _sections(lines: Sequence[str]) -> list[str]:
    """The section header each line belongs to ('' before the first section)."""
    current = ""
    out = []
    for line in lines:
        stripped = line.strip()
        if _SECTION_RE.match(line):
            current = " ".join(stripped.split())
        out.append(current)
    return out


def shipped_server_names(config: str) -> list[str]:
    """The ``server`` names of the pushsvc backend, in order (one per pod)."""
    lines = config.splitlines()
    return [
        m.group("name")
        for line, section in zip(lines, _sections(lines), strict=True)
        if section == BACKEND_SECTION and (m := _SERVER_RE.match(line))
    ]


def render_local_haproxy_config(
    config: str,
    *,
    frontend_bind: str,
    stats_bind: str,
    servers: Sequence[str],
) -> str:
    """Return ``config`` with only addresses changed, for a local topology.

    :param config: the shipped haproxy.cfg text.
    :param frontend_bind: ``host:port`` replacing the frontend's ``bind`` address.
    :param stats_bind: ``host:port`` replacing the stats section's ``bind`` address.
    :param servers: ``host:port`` of each pod, replacing the backend's ``server``
        addresses in order; there must be exactly as many as the shipped config has.
    """
    lines = config.splitlines(keepends=True)
    names = shipped_server_names(config)
    if len(servers) != len(names):
        raise ValueError(f"the shipped config has {len(names)} servers, got {len(servers)}")
    pending = list(servers)
    out = []
    for line, section in zip(lines, _sections(lines), strict=True):
        if section == BACKEND_SECTION and (m := _SERVER_RE.match(line)):
            line = f"{m['indent']}server {m['name']} {pending.pop(0)}{m['rest']}\n"
        elif section in (FRONTEND_SECTION, STATS_SECTION) and (m := _BIND_RE.match(line)):
            addr = frontend_bind if section == FRONTEND_SECTION else stats_bind
            line = f"{m['indent']}bind {addr}{m['rest']}\n"
        out.append(line)
    return "".join(out)


@dataclass(frozen=True)
class ServerState:
    """One row of HAProxy's stats CSV for a pushsvc server."""

    name: str
    status: str  # UP, DOWN, "UP 1/2", MAINT, ...
    current_sessions: int
    total_sessions: int
    check_status: str


def parse_stats_csv(text: str, *, backend: str = "be_pushsvc") -> dict[str, ServerState]:
    """Server rows of ``backend`` from HAProxy's ``/stats;csv`` output."""
    reader = csv.DictReader(io.StringIO(text.lstrip("# ")))
    states = {}
    for row in reader:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        states[row["svname"]] = ServerState(
            name=row["svname"],
            status=row.get("status", ""),
            current_sessions=int(row.get("scur") or 0),
            total_sessions=int(row.get("stot") or 0),
            check_status=row.get("check_status", ""),
        )
    return states


# --------------------------------------------------------------------------- processes


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wait_until(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TopologyError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""
    except (urllib.error.URLError, OSError):
        return None


def _use_checkout() -> None:
    """Make the checkout's ``tests`` package importable (the emulator and process helpers).

    ``pushsvc demo`` runs from the console script, whose sys.path holds the venv, not the
    repository root.
    """
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


def _ready_probe(url: str) -> Callable[[], bool]:
    """Ready and its bus watch up: readiness alone no longer says the watch is up (an API
    outage must not take pods out of the load balancer), /internal/health does."""

    def ready() -> bool:
        got = _http_get(f"{url}/readyz")
        health = _http_get(f"{url}/internal/health")
        if got is None or got[0] != 200 or health is None or health[0] != 200:
            return False
        try:
            bus = json.loads(health[1]).get("bus") or {}
        except ValueError:
            return False
        return bool(bus.get("watch_up", True))

    return ready


def _bin(name: str) -> str:
    """A console script of this interpreter's environment (the repo's .venv)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


class LocalTopology:
    """HAProxy (shipped config) → N pushsvc processes, optionally on the emulated Kubernetes bus.

    :param workdir: folder for configs, kubeconfigs and logs.
    :param bus: ``"kubernetes"`` (emulator + Events bus, as in a cluster) or ``"memory"``
        (each pod alone: enough to test stickiness, not cross-pod messages).
    :param port: HAProxy frontend port (0 = a free one).
    :param config_transform: applied to the rendered HAProxy config (tests use it to
        remove stickiness and show what breaks).
    :param pod_env: extra ``PUSHSVC_*`` settings for every pod.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        bus: str = "kubernetes",
        port: int = 0,
        config_transform: Callable[[str], str] | None = None,
        pod_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.bus = bus
        self.port = port or _free_port()
        self.stats_port = _free_port()
        self.config_transform = config_transform
        self.pod_env = dict(pod_env or {})
        self.url = f"http://127.0.0.1:{self.port}"
        self.stats_url = f"http://127.0.0.1:{self.stats_port}/stats"
        self.haproxy_cfg_path = self.workdir / "haproxy.cfg"
        self.server_names = shipped_server_names(SHIPPED_HAPROXY_CFG.read_text())
        self.pods: list[Any] = []  # tests.support.PushsvcProcess, one per server name
        self.kubeapi: Any = None  # tests.kubeapi handle when bus == "kubernetes"
        self.api_kubeconfig: Path | None = None
        self.notifier_kubeconfig: Path | None = None
        self._haproxy: subprocess.Popen[bytes] | None = None
        self._haproxy_log: Path = self.workdir / "haproxy.log"
        self._notifier_stop = threading.Event()
        self._notifier_thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> LocalTopology:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            if self.bus == "kubernetes":
                self._start_kubeapi()
            self._start_pods()
            self._start_haproxy()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop everything this topology started (safe to call twice)."""
        self.stop_notifier_loop()
        if self._haproxy is not None:
            if self._haproxy.poll() is None:
                self._haproxy.terminate()
                try:
                    self._haproxy.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._haproxy.kill()
                    self._haproxy.wait(timeout=10)
            log.info("haproxy stopped")
            self._haproxy = None
        if self.pods:
            # SIGTERM to all at once: each drains its clients for its shutdown grace.
            with concurrent.futures.ThreadPoolExecutor(len(self.pods)) as pool:
                list(pool.map(lambda pod: pod.stop(timeout=30), self.pods))
            log.info("%d pushsvc processes stopped", len(self.pods))
        self.pods = []
        if self.kubeapi is not None:
            self.kubeapi.stop()
            log.info("kubernetes API emulator stopped")
            self.kubeapi = None

    def __enter__(self) -> LocalTopology:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start_kubeapi(self) -> None:
        _use_checkout()
        from tests.kubeapi import KubeAPI

        self.kubeapi = KubeAPI(self.workdir / "kubeapi", rbac_dir=RBAC_DIR).start()
        self.api_kubeconfig = Path(self.kubeapi.kubeconfig_for(BUS_NAMESPACE, API_SERVICE_ACCOUNT))
        self.notifier_kubeconfig = Path(
            self.kubeapi.kubeconfig_for(BUS_NAMESPACE, NOTIFIER_SERVICE_ACCOUNT)
        )
        log.info("kubernetes API emulator started with rbac/ loaded")

    def _pod_env(self, index: int) -> dict[str, str]:
        env = {
            "PUSHSVC_BUS": self.bus,
            "PUSHSVC_POD_NAME": f"pushsvc-{self.server_names[index]}",
            "PUSHSVC_POD_NAMESPACE": BUS_NAMESPACE,
        }
        if self.bus == "kubernetes":
            assert self.api_kubeconfig is not None
            env["PUSHSVC_KUBECONFIG"] = str(self.api_kubeconfig)
            env["PUSHSVC_BUS_NAMESPACE"] = BUS_NAMESPACE
        env.update(self.pod_env)
        return env

    def _start_pods(self) -> None:
        _use_checkout()
        from tests.support.pushsvc_proc import start_pushsvc

        log_dir = self.workdir / "logs"
        with concurrent.futures.ThreadPoolExecutor(len(self.server_names)) as pool:
            futures = [
                pool.submit(start_pushsvc, env=self._pod_env(i), log_dir=log_dir)
                for i in range(len(self.server_names))
            ]
            errors = []
            for future in futures:
                try:
                    self.pods.append(future.result())
                except Exception as exc:  # keep the started ones so close() stops them
                    errors.append(exc)
        if errors:
            raise TopologyError(f"pushsvc did not start: {errors[0]}") from errors[0]
        if self.bus == "kubernetes":
            for pod in self.pods:
                _wait_until(
                    _ready_probe(pod.url), timeout=30, what=f"{pod.url}/readyz and its bus watch up"
                )
        log.info("%d pushsvc processes ready on %s", len(self.pods), [p.url for p in self.pods])

    def render_haproxy_config(self) -> str:
        text = render_local_haproxy_config(
            SHIPPED_HAPROXY_CFG.read_text(),
            frontend_bind=f"127.0.0.1:{self.port}",
            stats_bind=f"127.0.0.1:{self.stats_port}",
            servers=[f"{p.host}:{p.port}" for p in self.pods],
        )
        return self.config_transform(text) if self.config_transform else text

    def _start_haproxy(self) -> None:
        self.haproxy_cfg_path.write_text(self.render_haproxy_config())
        with open(self._haproxy_log, "wb") as out:
            self._haproxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(self.haproxy_cfg_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def all_up() -> bool:
            if self._haproxy is not None and self._haproxy.poll() is not None:
                raise TopologyError(
                    f"haproxy exited with {self._haproxy.returncode}: {self.haproxy_log()[-2000:]}"
                )
            states = self.server_states()
            return len(states) == len(self.pods) and all(
                s.status == "UP" for s in states.values()
            )

        _wait_until(all_up, timeout=30, what="haproxy to report every pod UP")
        log.info("haproxy started: %s (stats %s)", self.url, self.stats_url)

    # -- observation and control ---------------------------------------------
    def haproxy_log(self) -> str:
        try:
            return self._haproxy_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def server_states(self) -> dict[str, ServerState]:
        """HAProxy's view of each pod (from the stats page's CSV)."""
        got = _http_get(f"{self.stats_url};csv")
        if got is None or got[0] != 200:
            return {}
        return parse_stats_csv(got[1])

    def pod_for_cookie(self, value: str) -> int:
        """Index of the pod whose HAProxy ``cookie`` value is ``value`` (s1 → 0, ...)."""
        for index, line in enumerate(
            line
            for line in self.haproxy_cfg_path.read_text().splitlines()
            if _SERVER_RE.match(line)
        ):
            if re.search(rf"\bcookie\s+{re.escape(value)}\b", line):
                return index
        raise KeyError(value)

    def notify(self, *, event: str, data: str, room: str | None = None) -> None:
        """Run ``pushsvc-notify`` once as the notifier ServiceAccount (like the example Job)."""
        run_notifier(self.notifier_env(), ["--event", event, "--data", data]
                     + (["--room", room] if room else []))

    def notifier_env(self) -> dict[str, str]:
        """Environment of a notifier Job pod, pointed at the emulator."""
        if self.notifier_kubeconfig is None:
            raise TopologyError("no bus: the topology was started with bus='memory'")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
        env.update(
            {
                "KUBECONFIG": str(self.notifier_kubeconfig),
                "PUSHSVC_KUBECONFIG": str(self.notifier_kubeconfig),
                "PUSHSVC_BUS_NAMESPACE": BUS_NAMESPACE,
                "PUSHSVC_POD_NAME": "pushsvc-notify-demo",
                "PUSHSVC_POD_NAMESPACE": BUS_NAMESPACE,
            }
        )
        return env

    def start_notifier_loop(self, *, interval: float) -> None:
        """Send a numbered message to every browser every ``interval`` seconds."""

        def loop() -> None:
            number = 0
            while not self._notifier_stop.wait(interval if number else 0.5):
                number += 1
                stamp = time.strftime("%H:%M:%S")
                try:
                    self.notify(
                        event="nuke_response",
                        data=f'{{"data": "notifier message #{number} at {stamp}"}}',
                    )
                except TopologyError as exc:
                    log.warning("notifier message #%d failed: %s", number, exc)

        self._notifier_stop.clear()
        self._notifier_thread = threading.Thread(target=loop, name="notifier", daemon=True)
        self._notifier_thread.start()
        log.info("notifier loop started (every %.1f s)", interval)

    def stop_notifier_loop(self) -> None:
        if self._notifier_thread is not None:
            self._notifier_stop.set()
            self._notifier_thread.join(timeout=30)
            self._notifier_thread = None
            log.info("notifier loop stopped")


def run_notifier(env: dict[str, str], args: Sequence[str], *, timeout: float = 60) -> None:
    """Run ``pushsvc-notify ARGS``; raise TopologyError with its output if it fails."""
    try:
        done = subprocess.run(
            [_bin("pushsvc-notify"), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TopologyError(f"pushsvc-notify did not finish in {timeout:.0f} s") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        raise TopologyError(f"pushsvc-notify exited with {done.returncode}: {output}")


# --------------------------------------------------------------------------- CLI


class _Stop(Exception):
    """Raised from the SIGTERM handler to unwind into the cleanup."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def main(argv: Sequence[str] | None = None) -> int:
    """``pushsvc demo``: run the local topology until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="pushsvc demo",
        description="Local three-pod topology: Kubernetes API emulator (rbac/ loaded), three "
        "pushsvc processes on the Events bus, HAProxy with haproxy/haproxy.cfg, and a notifier.",
    )
    parser.add_argument("--port", type=int, default=8080,
                        help="HAProxy port on 127.0.0.1 (0 = any free port; default 8080)")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="seconds between notifier messages (default 5)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for configs and logs (default: a temporary folder)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    if not (REPO_ROOT / "tests" / "kubeapi").is_dir():
        print("pushsvc demo needs a source checkout (tests/kubeapi is the API emulator)",
              file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pushsvc-demo-")))
        topology = LocalTopology(workdir, port=args.port)
        try:
            stack.enter_context(topology)
            topology.start_notifier_loop(interval=args.interval)
            print(f"\npushsvc demo: open {topology.url}/ in a browser "
                  f"(HAProxy stats: {topology.stats_url}); logs in {workdir}. Ctrl-C stops.\n",
                  flush=True)
            while True:
                time.sleep(3600)
        except (KeyboardInterrupt, _Stop):
            print("\nstopping the demo...", flush=True)
        except TopologyError as exc:
            print(f"pushsvc demo failed: {exc}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
