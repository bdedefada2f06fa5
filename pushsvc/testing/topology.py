"""The local multi-pod topology: the shipped HAProxy config in front of real pushsvc processes.

``pushsvc demo`` (and ``make demo``), the ``push_topology`` pytest fixture and this project's
tests/deploy/ bring up on loopback what the manifests build in a cluster: the Kubernetes API
emulator with ``rbac/`` loaded, N ``pushsvc serve`` processes on the Kubernetes Events bus
(ServiceAccount ``pushsvc-api``), HAProxy running ``haproxy/haproxy.cfg`` and, on request, a
notifier (ServiceAccount ``pushsvc-notifier``) calling ``pushsvc-notify`` every few seconds.

The HAProxy config is not a second hand-written file: ``render_local_haproxy_config``
(pushsvc.testing.haproxy_config) takes the shipped one and changes only addresses.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pushsvc.testing.haproxy_config import (
    ServerState,
    local_server_names,
    parse_stats_csv,
    render_local_haproxy_config,
    server_for_cookie,
    shipped_server_names,
)
from pushsvc.testing.procs import (
    PushsvcProcess,
    console_script,
    free_port,
    http_get,
    spawn,
    start_pushsvc,
    stop_process,
    wait_until,
)
from pushsvc.testing.shipped import shipped_haproxy_cfg, shipped_rbac_dir

if TYPE_CHECKING:
    from pushsvc.testing.kubeapi import KubeAPI

#: Re-exported: what tests and the demo took from here before the HAProxy half moved out.
__all__ = [
    "API_SERVICE_ACCOUNT", "BUS_NAMESPACE", "NOTIFIER_SERVICE_ACCOUNT", "LocalTopology",
    "ServerState", "TopologyError", "combined_yaml", "local_server_names", "parse_stats_csv",
    "render_local_haproxy_config", "run_notifier", "shipped_server_names",
]

logger = logging.getLogger(__name__)

BUS_NAMESPACE = "pushsvc"
API_SERVICE_ACCOUNT = "pushsvc-api"
NOTIFIER_SERVICE_ACCOUNT = "pushsvc-notifier"


class TopologyError(RuntimeError):
    """A part of the local topology did not start (the message says which, and its log)."""


# --------------------------------------------------------------------------- processes


def _wait(predicate: Callable[[], object], *, timeout: float, what: str) -> object:
    try:
        return wait_until(predicate, timeout=timeout, what=what)
    except TimeoutError as exc:
        raise TopologyError(str(exc)) from exc


def _ready_probe(url: str) -> Callable[[], bool]:
    """Ready and its bus watch up: readiness alone no longer says the watch is up (an API
    outage must not take pods out of the load balancer), /internal/health does."""

    def ready() -> bool:
        got = http_get(f"{url}/readyz")
        health = http_get(f"{url}/internal/health")
        if got is None or got[0] != 200 or health is None or health[0] != 200:
            return False
        try:
            bus = json.loads(health[1]).get("bus") or {}
        except ValueError:
            return False
        return bool(bus.get("watch_up", True))

    return ready


class LocalTopology:
    """HAProxy (shipped config) → N pushsvc processes, optionally on the emulated Kubernetes bus.

    :param workdir: folder for configs, kubeconfigs and logs.
    :param bus: ``"kubernetes"`` (emulator + Events bus, as in a cluster) or ``"memory"``
        (each pod alone: enough to test stickiness, not cross-pod messages).
    :param pods: number of ``pushsvc serve`` processes (default: one per ``server`` line of
        the shipped config, three).
    :param haproxy: put HAProxy in front; without it ``url`` is the first pod's.
    :param port: HAProxy frontend port (0 = a free one).
    :param config_transform: applied to the rendered HAProxy config (tests use it to
        remove stickiness and show what breaks).
    :param pod_env: extra environment (``PUSHSVC_*`` settings) for every pod; wins over the
        topology's own settings except the pod's address.
    :param rbac_dir: Role/RoleBinding YAML loaded into the emulator (default: the shipped
        ``rbac/``).
    :param haproxy_cfg: the HAProxy config to render (default: the shipped one).
    :param extra_rbac: more Role/RoleBinding files loaded with ``rbac_dir`` (``pushsvc
        demo``: the job-notify component's, ``shipped_job_notify_rbac()``), so a grant that
        real clusters get from an optional component is not added to ``rbac/`` itself.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        bus: str = "kubernetes",
        pods: int | None = None,
        haproxy: bool = True,
        port: int = 0,
        config_transform: Callable[[str], str] | None = None,
        pod_env: dict[str, str] | None = None,
        rbac_dir: Path | None = None,
        haproxy_cfg: Path | None = None,
        extra_rbac: Sequence[Path] = (),
    ) -> None:
        if bus not in ("kubernetes", "memory"):
            raise ValueError(f"bus must be 'kubernetes' or 'memory', got {bus!r}")
        self.workdir = Path(workdir)
        self.bus = bus
        self.use_haproxy = haproxy
        self.port = port or free_port()
        self.stats_port = free_port()
        self.config_transform = config_transform
        self.pod_env = dict(pod_env or {})
        self.rbac_dir = rbac_dir
        self.extra_rbac = list(extra_rbac)
        self.shipped_haproxy_cfg = haproxy_cfg
        self.url = f"http://127.0.0.1:{self.port}"
        self.stats_url = f"http://127.0.0.1:{self.stats_port}/stats"
        self.haproxy_cfg_path = self.workdir / "haproxy.cfg"
        shipped = self._shipped_config()
        self.server_names = local_server_names(
            shipped, pods if pods is not None else len(shipped_server_names(shipped))
        )
        self.pods: list[PushsvcProcess] = []  # one per server name, in order
        self.kubeapi: KubeAPI | None = None  # when bus == "kubernetes"
        self.api_kubeconfig: Path | None = None
        self.notifier_kubeconfig: Path | None = None
        self._haproxy: subprocess.Popen[bytes] | None = None
        self._haproxy_log: Path = self.workdir / "haproxy.log"
        self._notifier_stop = threading.Event()
        self._notifier_thread: threading.Thread | None = None

    def _shipped_config(self) -> str:
        return (self.shipped_haproxy_cfg or shipped_haproxy_cfg()).read_text()

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> LocalTopology:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            if self.bus == "kubernetes":
                self._start_kubeapi()
            self._start_pods()
            if self.use_haproxy:
                self._start_haproxy()
            else:
                self.url = self.pods[0].url
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop everything this topology started (safe to call twice)."""
        self.stop_notifier_loop()
        if self._haproxy is not None:
            stop_process(self._haproxy, timeout=10)
            logger.info("haproxy stopped")
            self._haproxy = None
        if self.pods:
            # SIGTERM to all at once: each drains its clients for its shutdown grace.
            with concurrent.futures.ThreadPoolExecutor(len(self.pods)) as pool:
                list(pool.map(lambda pod: pod.stop(timeout=30), self.pods))
            logger.info("%d pushsvc processes stopped", len(self.pods))
        self.pods = []
        if self.kubeapi is not None:
            self.kubeapi.stop()
            logger.info("kubernetes API emulator stopped")
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
        from pushsvc.testing.kubeapi import KubeAPI

        rbac_dir = self.rbac_dir or shipped_rbac_dir()
        loaded = rbac_dir
        if self.extra_rbac:
            # The emulator loads one folder or one file: both, as one multi-document file.
            loaded = self.workdir / "emulator-rbac.yaml"
            loaded.write_text(combined_yaml([rbac_dir, *self.extra_rbac]))
        try:
            self.kubeapi = KubeAPI(self.workdir / "kubeapi", rbac_dir=loaded).start()
        except RuntimeError as exc:
            raise TopologyError(str(exc)) from exc
        self.api_kubeconfig = self.kubeapi.kubeconfig_for(BUS_NAMESPACE, API_SERVICE_ACCOUNT)
        self.notifier_kubeconfig = self.kubeapi.kubeconfig_for(
            BUS_NAMESPACE, NOTIFIER_SERVICE_ACCOUNT
        )
        logger.info("kubernetes API emulator started with %s loaded",
                    ", ".join(map(str, [rbac_dir, *self.extra_rbac])))

    def pod_name(self, index: int) -> str:
        """``PUSHSVC_POD_NAME`` of pod ``index``: ``pushsvc-`` and its HAProxy server name."""
        return f"pushsvc-{self.server_names[index]}"

    def _pod_env(self, index: int) -> dict[str, str]:
        env = {
            "PUSHSVC_BUS": self.bus,
            "PUSHSVC_POD_NAME": self.pod_name(index),
            "PUSHSVC_POD_NAMESPACE": BUS_NAMESPACE,
        }
        if self.bus == "kubernetes":
            assert self.api_kubeconfig is not None
            env["PUSHSVC_KUBECONFIG"] = str(self.api_kubeconfig)
            env["PUSHSVC_BUS_NAMESPACE"] = BUS_NAMESPACE
        env.update(self.pod_env)
        # The topology chooses each pod's address; a PUSHSVC_HOST/PORT in pod_env would
        # put every pod on one port.
        env.pop("PUSHSVC_HOST", None)
        env.pop("PUSHSVC_PORT", None)
        return env

    def _start_pods(self) -> None:
        log_dir = self.workdir / "logs"
        count = len(self.server_names)
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            futures = [
                pool.submit(start_pushsvc, env=self._pod_env(i), log_dir=log_dir,
                            cwd=self.workdir)
                for i in range(count)
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
                _wait(_ready_probe(pod.url), timeout=30,
                      what=f"{pod.url}/readyz and its bus watch up")
        logger.info("%d pushsvc processes ready on %s", count, [p.url for p in self.pods])

    def restart_pod(self, index: int) -> None:
        """Start pod ``index`` again on its port (after a test stopped or killed it)."""
        old = self.pods[index]
        if old.is_running():
            old.stop(timeout=30)
        self.pods[index] = start_pushsvc(env=self._pod_env(index), port=old.port,
                                         host=old.host, log_dir=self.workdir / "logs",
                                         cwd=self.workdir)
        if self.bus == "kubernetes":
            _wait(_ready_probe(self.pods[index].url), timeout=30,
                  what=f"{self.pods[index].url}/readyz and its bus watch up")

    def render_haproxy_config(self) -> str:
        text = render_local_haproxy_config(
            self._shipped_config(),
            frontend_bind=f"127.0.0.1:{self.port}",
            stats_bind=f"127.0.0.1:{self.stats_port}",
            servers=[f"{p.host}:{p.port}" for p in self.pods],
        )
        return self.config_transform(text) if self.config_transform else text

    def _start_haproxy(self) -> None:
        self.haproxy_cfg_path.write_text(self.render_haproxy_config())
        try:
            self._haproxy = spawn(
                [console_script("haproxy"), "-db", "-f", str(self.haproxy_cfg_path)],
                log_path=self._haproxy_log,
            )
        except FileNotFoundError as exc:
            raise TopologyError(
                "haproxy is not installed (Debian/Ubuntu: apt-get install haproxy); "
                "or start the topology without it (haproxy=False)"
            ) from exc

        def all_up() -> bool:
            if self._haproxy is not None and self._haproxy.poll() is not None:
                raise TopologyError(
                    f"haproxy exited with {self._haproxy.returncode}: {self.haproxy_log()[-2000:]}"
                )
            states = self.server_states()
            return len(states) == len(self.pods) and all(
                s.status == "UP" for s in states.values()
            )

        _wait(all_up, timeout=30, what="haproxy to report every pod UP")
        logger.info("haproxy started: %s (stats %s)", self.url, self.stats_url)

    # -- observation and control ---------------------------------------------
    def haproxy_log(self) -> str:
        try:
            return self._haproxy_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def server_states(self) -> dict[str, ServerState]:
        """HAProxy's view of each pod (from the stats page's CSV)."""
        got = http_get(f"{self.stats_url};csv")
        if got is None or got[0] != 200:
            return {}
        return parse_stats_csv(got[1])

    def pod_for_cookie(self, value: str) -> int:
        """Index of the pod whose HAProxy ``cookie`` value is ``value`` (s1 → 0, ...)."""
        return server_for_cookie(self.haproxy_cfg_path.read_text(), value)

    def notify(self, *, event: str, data: str, room: str | None = None,
               user: str | None = None) -> None:
        """Run ``pushsvc-notify`` once as the notifier ServiceAccount (like the example Job)."""
        run_notifier(self.notifier_env(), ["--event", event, "--data", data]
                     + (["--to", room] if room else []) + (["--user", user] if user else []))

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

    def start_notifier_loop(self, *, interval: float, event: str = "nuke_response",
                            users: Sequence[str] = ()) -> None:
        """Send a numbered message (as ``event``) to every browser every ``interval`` seconds,
        and one to every connection of each of ``users`` (their ``user:<sub>`` rooms)."""

        def loop() -> None:
            number = 0
            while not self._notifier_stop.wait(interval if number else 0.5):
                number += 1
                stamp = time.strftime("%H:%M:%S")
                try:
                    self.notify(
                        event=event,
                        data=f'{{"data": "notifier message #{number} at {stamp}"}}',
                    )
                except TopologyError as exc:
                    logger.warning("notifier message #%d failed: %s", number, exc)
                for user in users:
                    try:
                        self.notify(event=event, user=user, data=json.dumps(
                            {"data": f"notifier message #{number} for {user} at {stamp}"}))
                    except TopologyError as exc:
                        logger.warning("notifier message #%d for a user failed: %s", number,
                                       exc)

        self._notifier_stop.clear()
        self._notifier_thread = threading.Thread(target=loop, name="notifier", daemon=True)
        self._notifier_thread.start()
        logger.info("notifier loop started (every %.1f s)", interval)

    def stop_notifier_loop(self) -> None:
        if self._notifier_thread is not None:
            self._notifier_stop.set()
            self._notifier_thread.join(timeout=30)
            self._notifier_thread = None
            logger.info("notifier loop stopped")


def combined_yaml(paths: Sequence[Path]) -> str:
    """The YAML files of ``paths`` (folders: their ``*.yaml``/``*.yml``, recursively, as the
    emulator reads a folder) as one multi-document text."""
    files: list[Path] = []
    for path in paths:
        files += [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return "".join(f"---\n# {file.name}\n{file.read_text()}\n" for file in files)


def run_notifier(env: dict[str, str], args: Sequence[str], *, timeout: float = 60) -> None:
    """Run ``pushsvc-notify ARGS``; raise TopologyError with its output if it fails."""
    try:
        done = subprocess.run(
            [console_script("pushsvc-notify"), *args],
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


__all__ = [
    "API_SERVICE_ACCOUNT",
    "BUS_NAMESPACE",
    "NOTIFIER_SERVICE_ACCOUNT",
    "LocalTopology",
    "ServerState",
    "TopologyError",
    "combined_yaml",
    "local_server_names",
    "parse_stats_csv",
    "render_local_haproxy_config",
    "run_notifier",
    "shipped_server_names",
]
