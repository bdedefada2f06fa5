"""``pushsvc demo``: the local multi-pod topology (``pushsvc.testing.topology``) until Ctrl-C.

It starts the Kubernetes API emulator with the shipped ``rbac/`` loaded, N ``pushsvc serve``
processes on the Events bus, HAProxy with the shipped ``haproxy/haproxy.cfg`` (only
addresses changed) and a notifier loop, then prints the URL. It works from an installed
``pushsvc[server,testing]`` as well as from a source tree: rbac/ and haproxy.cfg are package
data, and ``--rbac-dir`` / ``--haproxy-cfg`` point elsewhere.

The user's ``PUSHSVC_*`` settings are passed to every pod (so, e.g., another origin can be
allowed with ``PUSHSVC_CORS_ALLOWED_ORIGINS``), except the ones the topology sets for each
pod (address, bus, pod identity), which are ignored with one line naming them.

The browser page needs the Socket.IO JS client, which is not Python and not in the wheel:
``PUSHSVC_JS_CLIENT_DIR`` names its folder (``node_modules/socket.io-client/dist``); in a
source tree the setup command's ``node_modules`` is found on its own. Without it the demo
refuses to start and says how to get it, instead of serving a page that cannot connect.

Once it runs it prints a ``pushsvc-notify`` command, ready to paste into another shell, that
pushes ``report_ready {"id": 42}`` to every page as the notifier ServiceAccount would; the
demo page shows every event it receives, so the push appears there as sent.

It also turns the Job notifier on (``PUSHSVC_JOB_NOTIFY``, docs/jobs.md), with the emulator
granting the pods list/watch on jobs from the ``manifests/job-notify`` component's own Role
and RoleBinding (loaded on top of ``rbac/``, which stays as real clusters get it), and prints
``kubectl`` commands against the emulator (its admin kubeconfig) that create a Job labelled
and annotated for the demo user and then write its status as the Job controller would (the
emulator runs no controller): created → running → retrying → running → succeeded, each
shown on the page's Jobs list. The page also shows the presence of its rooms (demo tokens
carry ``presence: ["*"]``).

This is the one command of the server that imports ``pushsvc.testing``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from pushsvc.testing.topology import LocalTopology

#: The command's lines keep the logger name they had before the package map (log queries read it).
logger = logging.getLogger("pushsvc.demo")

#: The push the printed notifier command sends (the docs' example).
EXAMPLE_EVENT = "report_ready"
EXAMPLE_DATA = '{"id": 42}'

#: The Job the printed kubectl commands create, and the status writes that walk it through
#: its life (docs/jobs.md): running, its pod failed (retrying), running again, succeeded.
EXAMPLE_JOB = "report-42"
JOB_STATUS_STEPS = (
    '{"status":{"active":1}}',
    '{"status":{"active":0,"failed":1}}',
    '{"status":{"active":1}}',
    '{"status":{"active":0,"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]}}',
)

#: Settings the topology chooses for each pod; the user's values for them are ignored.
TOPOLOGY_SETTINGS = frozenset(
    {
        "PUSHSVC_HOST",
        "PUSHSVC_PORT",
        "PUSHSVC_BUS",
        "PUSHSVC_KUBECONFIG",
        "PUSHSVC_BUS_NAMESPACE",
        "PUSHSVC_POD_NAME",
        "PUSHSVC_POD_NAMESPACE",
        "PUSHSVC_POD_UID",
    }
)


class _Stop(Exception):
    """Raised from the SIGTERM handler to unwind into the cleanup."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushsvc demo",
        description="Local multi-pod topology: Kubernetes API emulator (rbac/ loaded), N "
        "pushsvc processes on the Events bus, HAProxy with haproxy/haproxy.cfg, and a "
        "notifier. The PUSHSVC_* settings of this shell reach every pod (except address, "
        "bus and pod identity, which the topology sets). The demo page needs the Socket.IO "
        "JS client: PUSHSVC_JS_CLIENT_DIR (a folder holding socket.io.min.js) outside a "
        "source tree.",
    )
    parser.add_argument("--port", type=int, default=8080,
                        help="HAProxy port on 127.0.0.1 (0 = any free port; default 8080)")
    parser.add_argument("--pods", type=int, default=3,
                        help="number of pushsvc processes (default 3)")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="seconds between notifier messages (default 5)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for configs and logs (default: a temporary folder)")
    parser.add_argument("--rbac-dir", type=Path, default=None,
                        help="RBAC YAML to load into the emulator (default: the shipped rbac/)")
    parser.add_argument("--haproxy-cfg", type=Path, default=None,
                        help="HAProxy config to render (default: the shipped haproxy.cfg)")
    return parser


def user_pod_env(environ: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The user's ``PUSHSVC_*`` settings for the pods, and the names ignored."""
    passed = {k: v for k, v in environ.items()
              if k.startswith("PUSHSVC_") and k not in TOPOLOGY_SETTINGS}
    ignored = sorted(k for k in environ if k in TOPOLOGY_SETTINGS)
    return passed, ignored


#: Any of these set by the user: the demo leaves authentication to the user's settings.
_AUTH_SETTINGS = ("PUSHSVC_AUTH_MODE", "PUSHSVC_AUTH_TOKEN", "PUSHSVC_JWT_", "PUSHSVC_DEMO_TOKENS")


def demo_identity(pod_env: dict[str, str]) -> tuple[str, ...]:
    """Unless the user configured authentication, put the pods in JWT mode with a secret made
    for this run and the dev-only token endpoint on (tokens optional, so a client without one
    still connects, anonymously); returns the users the notifier also writes to."""
    if any(name.startswith(_AUTH_SETTINGS) for name in pod_env):
        return ()
    pod_env.update({
        "PUSHSVC_AUTH_MODE": "jwt",
        "PUSHSVC_JWT_SECRET": secrets.token_urlsafe(32),
        "PUSHSVC_JWT_REQUIRED": "false",
        "PUSHSVC_DEMO_TOKENS": "true",
    })
    logger.info("JWT mode with demo tokens (a secret made for this run; set PUSHSVC_AUTH_MODE "
                "to choose yourself)")
    return ("alice",)


def demo_recovery(pod_env: dict[str, str]) -> None:
    """Unless the user configured it, turn connection state recovery on (with a snapshot key
    made for this run), so the page shows "recovered" after its pod is killed or restarted."""
    if any(name.startswith("PUSHSVC_RECOVERY_") for name in pod_env):
        return
    pod_env.update({
        "PUSHSVC_RECOVERY_ENABLED": "true",
        "PUSHSVC_RECOVERY_SECRET": secrets.token_urlsafe(32),
    })
    logger.info("connection state recovery on (a snapshot key made for this run; set "
                "PUSHSVC_RECOVERY_ENABLED to choose yourself)")


def demo_jobs(pod_env: dict[str, str]) -> bool:
    """Unless the user configured the Job notifier (or turned the janitor it runs on off),
    turn it on; returns whether the demo grants and shows it."""
    if any(name.startswith("PUSHSVC_JOB_NOTIFY") for name in pod_env) or \
            pod_env.get("PUSHSVC_JANITOR", "true").strip().lower() in ("false", "0", "no", "off"):
        return pod_env.get("PUSHSVC_JOB_NOTIFY", "").strip().lower() in ("true", "1", "yes", "on")
    pod_env["PUSHSVC_JOB_NOTIFY"] = "true"
    logger.info("Job notifier on (set PUSHSVC_JOB_NOTIFY to choose yourself)")
    return True


def _missing_js_client() -> str | None:
    """Why the demo page could not load the JS client, or None when it is there."""
    from pushsvc.settings import Settings
    from pushsvc.web.routes import js_client_dir

    folder = js_client_dir(Settings())
    if (folder / "socket.io.min.js").is_file():
        return None
    where = "PUSHSVC_JS_CLIENT_DIR" if os.environ.get("PUSHSVC_JS_CLIENT_DIR") else "the default"
    return (
        f"the Socket.IO JS client is missing: no socket.io.min.js in {folder} ({where}). "
        "The demo page cannot connect without it. Install it (npm install socket.io-client@4) "
        "and set PUSHSVC_JS_CLIENT_DIR to its dist folder "
        "(node_modules/socket.io-client/dist), or run ./scripts/setup.sh in a source tree."
    )


def notifier_command(topology: LocalTopology, *, event: str = EXAMPLE_EVENT,
                     data: str = EXAMPLE_DATA) -> str:
    """A shell command that pushes ``event`` with ``data`` to every page of the running demo,
    as the notifier ServiceAccount (its kubeconfig, the bus namespace)."""
    from pushsvc.testing.procs import console_script
    from pushsvc.testing.topology import BUS_NAMESPACE

    script = console_script("pushsvc-notify")
    # The bare name when the shell would find this very script, else its full path.
    name = "pushsvc-notify" if shutil.which("pushsvc-notify") == script else script
    assert topology.notifier_kubeconfig is not None
    return (f"KUBECONFIG={shlex.quote(str(topology.notifier_kubeconfig))} "
            f"{shlex.quote(name)} --namespace {BUS_NAMESPACE} --event {shlex.quote(event)} "
            f"--data {shlex.quote(data)}")


def notifier_exports(topology: LocalTopology) -> str:
    """The shell line that makes ``pushsvc-notify`` and ``emitter.notify()`` reach the demo."""
    from pushsvc.testing.topology import BUS_NAMESPACE

    assert topology.notifier_kubeconfig is not None
    return (f"export KUBECONFIG={shlex.quote(str(topology.notifier_kubeconfig))} "
            f"PUSHSVC_BUS_NAMESPACE={BUS_NAMESPACE}")


def job_commands(topology: LocalTopology, *, user: str, name: str = EXAMPLE_JOB) -> list[str]:
    """Shell commands, as the emulator's admin, that create Job ``name`` labelled and annotated
    for ``user``'s pages and then write its status step by step (JOB_STATUS_STEPS)."""
    from pushsvc.jobs.transitions import NOTIFY_LABEL, USER_ANNOTATION
    from pushsvc.testing.topology import BUS_NAMESPACE

    assert topology.kubeapi is not None
    kubectl = (f"kubectl --kubeconfig {shlex.quote(str(topology.kubeapi.kubeconfig))} "
               f"-n {BUS_NAMESPACE}")
    # kubectl create job has no --labels: its manifest is labelled and annotated locally
    # (no server involved) and then created in one request, so the Job is never seen
    # without its target.
    create = (f"{kubectl} create job {name} --image=busybox --dry-run=client -o yaml -- echo hi"
              f" | kubectl label --local -f - {NOTIFY_LABEL}=true -o yaml"
              f" | kubectl annotate --local -f - {USER_ANNOTATION}={shlex.quote(user)} -o yaml"
              f" | {kubectl} create -f -")
    return [create] + [
        f"{kubectl} patch job {name} --subresource=status --type=merge -p {shlex.quote(step)}"
        for step in JOB_STATUS_STEPS
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the local topology until Ctrl-C or SIGTERM."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.pods < 1:
        print("pushsvc demo: --pods must be at least 1", file=sys.stderr)
        return 2
    try:
        # The emulator's handle needs the testing extra (PyYAML; the process needs gevent).
        import pushsvc.testing.kubeapi  # noqa: F401
        from pushsvc.testing.topology import LocalTopology, TopologyError
    except ImportError as exc:
        print(f"pushsvc demo needs the testing extra: pip install 'pushsvc[server,testing]' "
              f"({exc})", file=sys.stderr)
        return 2
    try:
        problem = _missing_js_client()
    except ValidationError as exc:
        print(f"pushsvc demo: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    if problem:
        print(f"pushsvc demo: {problem}", file=sys.stderr)
        return 2
    pod_env, ignored = user_pod_env(dict(os.environ))
    if ignored:
        logger.warning("ignoring %s: the demo sets these for each pod", ", ".join(ignored))
    if pod_env:
        # Names only: values may be secrets (PUSHSVC_AUTH_TOKEN).
        logger.info("passing %s to every pod", ", ".join(sorted(pod_env)))
    reply_event = pod_env.get("PUSHSVC_REPLY_EVENT", "nuke_response")
    demo_users = demo_identity(pod_env)
    demo_recovery(pod_env)
    jobs = demo_jobs(pod_env)

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pushsvc-demo-")))
        # Absolute: the pods and the notifier run in folders of their own and read the
        # kubeconfigs written under it.
        workdir = workdir.resolve()
        try:
            from pushsvc.testing.shipped import shipped_job_notify_rbac

            topology = LocalTopology(workdir, port=args.port, pods=args.pods, pod_env=pod_env,
                                     rbac_dir=args.rbac_dir, haproxy_cfg=args.haproxy_cfg,
                                     extra_rbac=shipped_job_notify_rbac() if jobs else ())
            stack.enter_context(topology)
            topology.start_notifier_loop(interval=args.interval, event=reply_event,
                                         users=demo_users)
            print("\nPush an event to every page yourself (the page shows each event it gets, "
                  "with its name and data):\n\n    " + notifier_command(topology) + "\n\n"
                  "(--user alice for alice's tabs only, --to NAME for a room; "
                  "pushsvc-notify --help)\n\nOr export the notifier's credentials once, for "
                  "pushsvc-notify and emitter.notify() in Python:\n\n    "
                  + notifier_exports(topology) + "\n", flush=True)
            if jobs and demo_users:
                create, *steps = job_commands(topology, user=demo_users[0])
                print(f"Create a Job for {demo_users[0]} (the page lists its phases under "
                      "Jobs):\n\n    " + create + "\n\nThe emulator runs no Job controller: "
                      "write its status as one would, a line at a time (running, its pod "
                      "failed and is retried, running again, succeeded):\n\n"
                      + "".join(f"    {step}\n" for step in steps), flush=True)
            print(f"\npushsvc demo: open {topology.url}/ in a browser "
                  f"(HAProxy stats: {topology.stats_url}); {args.pods} pods; logs in {workdir}. "
                  "Ctrl-C stops.\n", flush=True)
            if demo_users:
                print(f"Each tab gets a demo token for the user in its User field ({topology.url}"
                      "/?user=bob for another); every tab of alice, on any pod, also gets the "
                      "notifier's messages for alice.\n", flush=True)
            while True:
                time.sleep(3600)
        except (KeyboardInterrupt, _Stop):
            print("\nstopping the demo...", flush=True)
        except (TopologyError, FileNotFoundError, ValueError) as exc:
            print(f"pushsvc demo failed: {exc}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
