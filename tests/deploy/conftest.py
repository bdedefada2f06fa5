"""Shared fixtures for the deployment tests: repo paths, tools, and the local topology.

The topology is ``pushsvc.testing.topology.LocalTopology`` — the same code ``pushsvc demo`` runs —
so these tests prove the demo as well as the shipped HAProxy config.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import pytest
import yaml

from pushsvc.testing.topology import LocalTopology

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_HAPROXY_CFG = REPO_ROOT / "haproxy" / "haproxy.cfg"
ARTIFACTS = REPO_ROOT / "artifacts" / "deploy"
# A short drain keeps teardown quick; the drain itself is tested with the server.
TEST_POD_ENV = {"PUSHSVC_SHUTDOWN_GRACE_SECONDS": "3"}


def require_tool(name: str) -> str:
    """Path of a command-line tool the test needs; fail (not skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; run ./scripts/setup.sh --all")
    return path


def run(cmd: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


#: The Kubernetes version whose OpenAPI schemas kubernetes-validate checks against.
K8S_VERSION = "1.33.0"
#: prometheus-operator's CRDs: kubernetes-validate has no schema for them.
OPERATOR_API = "monitoring.coreos.com/v1"


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize DIRECTORY``: the rendered objects (fails the test if it fails)."""
    done = run([require_tool("kubectl"), "kustomize", str(directory)])
    assert done.returncode == 0, f"kubectl kustomize {directory}: {done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def overlay_of(workdir: Path, *, components: list[Path], namespace: str | None = None,
               base: Path = REPO_ROOT / "manifests" / "base") -> Path:
    """An overlay of the user's own in ``workdir``: the base plus ``components``."""
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize wants relative paths to other kustomizations.
        "resources": [os.path.relpath(base, workdir)],
        "components": [os.path.relpath(c, workdir) for c in components],
    }
    if namespace is not None:
        kustomization["namespace"] = namespace
    (workdir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return workdir


def strict_validation(objects: list[dict[str, Any]],
                      workdir: Path) -> subprocess.CompletedProcess[str]:
    """kubernetes-validate --strict over every object (but prometheus-operator's CRDs)."""
    path = workdir / "objects.yaml"
    path.write_text(yaml.safe_dump_all([o for o in objects if o["apiVersion"] != OPERATOR_API]))
    tool = str(Path(sys.executable).parent / "kubernetes-validate")
    return run([tool, "--strict", "-k", K8S_VERSION, str(path)])


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def bus_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    """The full local topology: emulator + RBAC, three pods on the Events bus, HAProxy."""
    require_tool("haproxy")
    workdir = tmp_path_factory.mktemp("topology")
    with LocalTopology(workdir, bus="kubernetes", pod_env=TEST_POD_ENV) as topology:
        yield topology


@pytest.fixture(scope="module")
def memory_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    """The shipped HAProxy config in front of three pods without a bus (stickiness only)."""
    require_tool("haproxy")
    workdir = tmp_path_factory.mktemp("topology-memory")
    with LocalTopology(workdir, bus="memory", pod_env=TEST_POD_ENV) as topology:
        yield topology


SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]


def without_cookie(config: str) -> str:
    """The shipped config minus the SERVERID cookie: `balance source` alone."""
    lines = [line for line in config.splitlines() if not line.strip().startswith("cookie ")]
    return "\n".join(line.split(" cookie ")[0] for line in lines) + "\n"


def without_stickiness(config: str) -> str:
    """No cookie and round-robin balancing: nothing keeps a session on its pod."""
    return without_cookie(config).replace("    balance source\n", "    balance roundrobin\n")


URL_LINE = re.compile(r"pushsvc demo: open (http://127\.0\.0\.1:\d+)/ in a browser")


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def read_demo_url(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """The URL ``pushsvc demo`` prints, and its output up to it; a thread reads stdout so the
    wait stays bounded."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(stdout, lines), daemon=True).start()
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if m := URL_LINE.search(line):
            return m.group(1), "".join(seen)
    raise AssertionError("pushsvc demo printed no URL:\n" + "".join(seen[-40:]))


@dataclass
class RunningDemo:
    proc: subprocess.Popen[str]
    url: str
    #: Every process the demo started, read once it printed its URL.
    children: list[psutil.Process]
    #: What it printed up to its URL line.
    output: str = ""

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the demo, wait for it; its exit code. The children's exit is checked apart."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@contextlib.contextmanager
def running_demo(cmd: list[str], *, cwd: Path, env: dict[str, str],
                 timeout: float = 90) -> Iterator[RunningDemo]:
    """``pushsvc demo`` started in a session of its own, until it printed its URL.

    On the way out, whatever is still running is SIGKILLed: the demo's process group and, by
    PID, each child it started (the pods, the emulator and HAProxy run in sessions of their
    own, so killing the group alone would leak them when a test fails half-way).
    """
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    children: list[psutil.Process] = []
    try:
        url, output = read_demo_url(proc, timeout=timeout)
        children = psutil.Process(proc.pid).children(recursive=True)
        yield RunningDemo(proc, url, children, output)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(children, timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# -- a wheel of the working tree, installed the way users install it --------------------

NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "artifacts", "build", "dist", "*.egg-info", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "_assets",
)


def source_copy(where: Path, *, node_modules: bool) -> Path:
    """The working tree's sources copied to ``where``, so a build leaves the checkout clean;
    with ``node_modules`` it links the checkout's (the packages ``npm ci`` installed)."""
    source = where / "source"
    shutil.copytree(REPO_ROOT, source, symlinks=True, ignore=NOT_SOURCES)
    if node_modules:
        (source / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    return source


def build_wheel(source: Path, dist: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the working tree (its browser files copied in from node_modules)."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    done = build_wheel(source_copy(tmp_path, node_modules=True), tmp_path / "dist")
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = (tmp_path / "dist").glob("pushsvc-*.whl")
    return built


def fresh_venv(tmp_path: Path, requirement: str) -> Path:
    """A new virtualenv with ``requirement`` (e.g. ``<wheel>[server]``) pip-installed into it;
    packages come from the configured index and pip's cache, as for any user."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", requirement],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def clean_env() -> dict[str, str]:
    """This environment without pushsvc settings, Python paths or the virtualenv."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PUSHSVC_", "PYTHON", "PYTEST_"))
            and k not in ("VIRTUAL_ENV", "KUBECONFIG")}
