"""``KubeAPI``: start, drive and stop an emulator process from tests, the demo or a benchmark.

The emulator always runs as its own process (``python -m pushsvc.testing.kubeapi``) so that
clients talk to it over real HTTP and a restart is a real process restart on the same port and
state file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from .kubeconfig import read_cluster, write_kubeconfig

log = logging.getLogger(__name__)

# The folder this copy of pushsvc was imported from: the child imports the same one, whether
# pushsvc is installed or imported from a source tree on sys.path.
_IMPORT_ROOT = Path(__file__).resolve().parents[3]
_READY = re.compile(r"kubeapi listening on (http://[\d.]+:(\d+))")


class KubeAPI:
    """A running emulator process.

    :param workdir: where the kubeconfigs, the state file and the log go.
    :param compaction_interval: seconds between automatic compactions (each to the revision
        seen at the previous one).
    :param max_history: changes kept for watches to resume from (default: the emulator's).
    :param event_ttl: seconds an Event lives.
    :param rbac_dir: a directory of Role/RoleBinding YAML loaded at start, or one
        multi-document file (``kubectl kustomize`` output).
    :param anonymous: accept requests without a token as ``system:anonymous``.
    :param state_file: defaults to ``workdir/state.jsonl``.
    :param persist: keep the state in ``state_file`` across restarts; without it nothing
        is written per request (benchmarks), and ``restart()`` starts empty.
    :param rate_limits: API Priority and Fairness from the start: user name -> (requests per
        second, burst or None); see :meth:`rate_limit`.
    """

    def __init__(self, workdir: Path, *, compaction_interval: float = 300.0,
                 max_history: int | None = None, event_ttl: float = 3600.0,
                 rbac_dir: Path | None = None,
                 anonymous: bool = False, state_file: Path | None = None,
                 port: int = 0, extra_args: list[str] | None = None,
                 persist: bool = True,
                 rate_limits: dict[str, tuple[float, int | None]] | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_file = state_file or self.workdir / "state.jsonl"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.log_path = self.workdir / "kubeapi.log"
        self._args = [
            "--compaction-interval", str(compaction_interval),
            "--event-ttl", str(event_ttl),
            "--kubeconfig-out", str(self.kubeconfig),
        ]
        if max_history is not None:
            self._args += ["--max-history", str(max_history)]
        if persist:
            self._args += ["--state-file", str(self.state_file)]
        self._rbac_dir = rbac_dir
        if anonymous:
            self._args.append("--anonymous")
        for user, (rate, burst) in (rate_limits or {}).items():
            self._args += ["--rate-limit", f"{user}={rate:g}" + (f":{burst}" if burst else "")]
        self._args += extra_args or []
        self.port = port
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self._rbac_text: str | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 20.0) -> KubeAPI:
        self._log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "pushsvc.testing.kubeapi", "--port", str(self.port),
               *self._args]
        # RBAC is stored state in a real cluster: what set_rbac() applied is loaded before the
        # emulator serves its first request after a restart (else requests in between get 403).
        rbac_dir = self._applied_rbac.parent if self._rbac_text is not None else self._rbac_dir
        if rbac_dir is not None:
            cmd += ["--rbac-dir", str(rbac_dir)]
        env = {**os.environ, "PYTHONPATH": str(_IMPORT_ROOT) + os.pathsep + os.environ.get(
            "PYTHONPATH", "")}
        self._proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=self._log, text=True)
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                break
            m = _READY.search(line)
            if m:
                self.url, self.port = m.group(1), int(m.group(2))
                log.info("kubeapi emulator started at %s (pid %d)", self.url, self._proc.pid)
                return self
        self.stop()
        raise RuntimeError(f"kubeapi emulator did not start; see {self.log_path}: {line!r}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code."""
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            log.info("kubeapi emulator stopped (exit %s)", code)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def restart(self) -> int | None:
        """Stop with SIGTERM and start again on the same port with the same state file."""
        code = self.stop()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start()
                return code
            except RuntimeError:
                # The port can take a moment to become bindable again.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> KubeAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- control
    def _control(self, method: str, path: str, body: bytes | None = None,
                 content_type: str = "application/json") -> Any:
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=body, method=method,
                                     headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """Inject ``429`` (count, retry_after), ``stall``, ``drop_watches``, ``compact``, or
        ``snapshot`` then ``restore`` (an etcd restore: the resourceVersion goes back)."""
        result: dict[str, Any] = self._control(
            "POST", "fault", json.dumps({"kind": kind, **params}).encode())
        return result

    def rate_limit(self, user: str, rate: float | None, *, burst: int | None = None,
                   retry_after: int | None = None) -> dict[str, Any]:
        """API Priority and Fairness for ``user`` (e.g. ``serviceaccount_user(ns, sa)``):
        ``rate`` requests/s with ``burst``; past it every verb gets ``429`` with
        ``Retry-After`` (the wait for the next token, or ``retry_after``) and APF's plain
        text. ``rate=None`` lifts it. Not kept across ``restart()``: pass ``rate_limits``."""
        result: dict[str, Any] = self._control("POST", "apf", json.dumps(
            {"user": user, "rate": rate, "burst": burst, "retry_after": retry_after}).encode())
        return result

    def apf_stats(self) -> dict[str, dict[str, Any]]:
        """Per limited user: rate, burst, allowed, throttled and ``early_retries`` (the same
        request again before its 429's Retry-After ran out)."""
        result: dict[str, dict[str, Any]] = self._control("GET", "apf")
        return result

    def add_token(self, token: str, user: str) -> None:
        self._control("POST", "tokens", json.dumps({"token": token, "user": user}).encode())

    def kubeconfig_for(self, namespace: str, serviceaccount: str) -> Path:
        """A kubeconfig authenticating as ``system:serviceaccount:NS:SA``, in that namespace."""
        token = secrets.token_urlsafe(24)
        user = serviceaccount_user(namespace, serviceaccount)
        self.add_token(token, user)
        path = self.workdir / f"kubeconfig-{namespace}-{serviceaccount}"
        server, ca = read_cluster(self.kubeconfig)
        write_kubeconfig(path, server=server, token=token, namespace=namespace, user=user,
                         ca_pem=ca)
        return path

    def set_rbac(self, yaml_text: str) -> dict[str, Any]:
        """Replace every loaded Role/RoleBinding; re-applied after ``restart()``."""
        result: dict[str, Any] = self._control("PUT", "rbac", yaml_text.encode(),
                                               "application/yaml")
        self._rbac_text = yaml_text
        self._applied_rbac.parent.mkdir(exist_ok=True)
        self._applied_rbac.write_text(yaml_text)
        return result

    @property
    def _applied_rbac(self) -> Path:
        return self.workdir / "applied-rbac" / "rbac.yaml"

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._control("GET", "stats")
        return result

    def timings(self) -> dict[str, dict[str, Any]]:
        """Accept/write times per Event name since the last call (``--record-timings`` only):
        ``{"arrived", "accepted": unix seconds, "written": [one per watch]}``."""
        result: dict[str, dict[str, Any]] = self._control("GET", "timings")["events"]
        return result

    def admin_token(self) -> str:
        doc = yaml.safe_load(self.kubeconfig.read_text())
        return str(doc["users"][0]["user"]["token"])


def serviceaccount_user(namespace: str, serviceaccount: str) -> str:
    """The user name the API server gives a ServiceAccount's token."""
    return f"system:serviceaccount:{namespace}:{serviceaccount}"


@contextlib.contextmanager
def start_kubeapi(workdir: Path | None = None, **options: Any) -> Iterator[KubeAPI]:
    """Start an emulator; stop it on exit. Options as for ``KubeAPI``.

    The handle gives the admin kubeconfig (``.kubeconfig``), one per ServiceAccount
    (``.kubeconfig_for(namespace, name)``) and fault injection (``.fault(kind, ...)``).
    Without ``workdir`` its files go to a temporary folder removed on exit.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kubeapi-")))
        api = KubeAPI(workdir, **options)
        api.start()
        stack.callback(api.stop)
        yield api
