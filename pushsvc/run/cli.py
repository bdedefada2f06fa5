"""The ``pushsvc`` command: ``serve`` (gunicorn, one gevent worker) and ``demo``.

``serve`` runs gunicorn in this process through ``gunicorn.app.base.BaseApplication``,
with pushsvc's worker class, worker_connections, graceful timeout, bind address, file
limit and log format; ``serve myapp:app`` does the same for a user's Flask app with
``pushsvc.init_app``. The master imports neither Flask-SocketIO nor kubernetes: the app
is built in the worker (``load()``), after the gevent worker has monkey-patched, so the
Kubernetes watch and every socket cooperate with gevent. All configuration is
environment variables (``pushsvc serve --help`` lists them).

This module imports only the standard library at the top: after a notifier-only
``pip install pushsvc`` (no server extra) the command says which extra to install
instead of dying on an import.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import resource
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

    from pushsvc.settings import Settings

#: The command's lines keep the logger name they had before the package map (log queries read it).
log = logging.getLogger("pushsvc.cli")

WORKER_CLASS = "pushsvc.engineio.worker.Worker"
LOGGER_CLASS = "pushsvc.run.logs.GunicornLogger"
#: Modules of the server extra; the notifier-only install has none of them.
SERVER_MODULES = ("flask", "flask_socketio", "gunicorn", "gevent", "pydantic_settings")
EXIT_USAGE = 2  # bad usage or settings; missing extra
EXIT_CONFIG = 3  # the Kubernetes configuration (as pushsvc-notify)
_SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def version() -> str:
    """pushsvc's version (``pushsvc.__version__``, the one place it is written)."""
    from pushsvc import __version__

    return __version__


def missing_server_modules() -> list[str]:
    """The server extra's modules that are not installed (found without importing them)."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def settings_help() -> str:
    """Every setting, section by section: env var, unit/type, default, description (from the
    Settings model)."""
    from pushsvc.settings import settings_docs

    lines = ["settings (environment variables), by section:"]
    section = None
    for row in settings_docs():
        if row.section != section:
            section = row.section
            lines.extend(["", f"  {section}:", ""])
        lines.append(f"  {row.env}  [{row.kind}, default: {row.default}]")
        lines.extend(
            textwrap.wrap(row.description, width=88, initial_indent="      ",
                          subsequent_indent="      ")
        )
    return "\n".join(lines)


def settings_markdown() -> str:
    """The same tables in Markdown, one per section under its heading, for
    docs/configuration.md (scripts/gen_configuration_docs.py)."""
    from pushsvc.settings import REMOVED_SETTINGS, RETIRED_SETTINGS, SECTIONS, settings_docs

    intro = {section.title: " ".join((section.__doc__ or "").split()) for section in SECTIONS}
    rows: list[str] = []
    section = None
    for row in settings_docs():
        if row.section != section:
            section = row.section
            rows += ["", f"## {section}", "", intro[section], "",
                     "| env var | default | unit/type | meaning |", "|---|---|---|---|"]
        desc = row.description.replace("|", "\\|")
        rows.append(f"| `{row.env}` | `{row.default}` | {row.kind} | {desc} |")
    rows += ["", "## Removed settings", "",
             "Set, they are ignored with one warning line naming what replaced them.", "",
             "| env var | replaced by |", "|---|---|"]
    removed = {**REMOVED_SETTINGS, **RETIRED_SETTINGS}
    rows += [f"| `{name}` | {now} |" for name, now in removed.items()]
    return "\n".join(rows).strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushsvc", description="Kubernetes-native Socket.IO push for Flask."
    )
    parser.add_argument("--version", action="version", version=f"pushsvc {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd = sub.add_parser(
        "serve",
        help="serve the push server, or your Flask app with pushsvc (gunicorn, one "
        "gevent worker on pushsvc's Engine.IO server)",
        description="Serve pushsvc with gunicorn: one gevent worker (pushsvc's own Engine.IO "
        "server, pushsvc.engineio), bound to "
        "PUSHSVC_HOST:PUSHSVC_PORT. Without APP it serves pushsvc's own app (the demo "
        "page); with APP (module:variable, e.g. myapp:app, imported from the current "
        "folder or PYTHONPATH) your Flask app that called pushsvc.init_app(app), with the "
        "same settings. Configure it with the environment variables below.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve_cmd.add_argument("app", nargs="?", metavar="APP",
                           help="your WSGI app as module:variable (default: pushsvc's own)")
    settings_cmd = sub.add_parser("settings", help="print the settings table")
    settings_cmd.add_argument("--markdown", action="store_true", help="as a Markdown table")
    sub.add_parser("demo", help="run the local multi-pod demo (pushsvc demo --help)",
                   add_help=False)
    token = sub.add_parser(
        "token", help="mint a development JWT from PUSHSVC_JWT_SECRET",
        description="Print an HS256 token signed with PUSHSVC_JWT_SECRET (with "
        "PUSHSVC_JWT_AUDIENCE / PUSHSVC_JWT_ISSUER when set), for trying JWT mode. Real "
        "tokens come from your application's login view.",
    )
    token.add_argument("--sub", required=True, help="the user (the token's subject)")
    token.add_argument("--rooms", default="", help="comma-separated rooms it may join: names "
                       "or prefixes ending in * (e.g. 'job-*,finance')")
    token.add_argument("--publish", default="", help="comma-separated rooms it may send "
                       "my_room_event to (same patterns)")
    token.add_argument("--close", default="", help="comma-separated rooms it may close")
    token.add_argument("--broadcast", action="store_true", help="it may broadcast")
    token.add_argument("--ttl", default="1h", type=_duration,
                       help="lifetime: seconds, or with s/m/h/d (default 1h)")
    return parser


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90, 30m, 1h)"
                                         ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the ttl must be positive")
    return value


def mint_token(args: argparse.Namespace, settings: Settings) -> int:
    from pushsvc.identity import mint

    if settings.jwt_secret is None:
        print("pushsvc token: PUSHSVC_JWT_SECRET is not set (this command signs HS256 tokens "
              "with it; for RS256/ES256 keys mint tokens where the private key is)",
              file=sys.stderr)
        return 2

    def split(text: str) -> list[str]:
        return [part.strip() for part in text.split(",") if part.strip()]

    print(mint(settings.jwt_secret.get_secret_value(), sub=args.sub, ttl_seconds=args.ttl,
               rooms=split(args.rooms), publish=split(args.publish), close=split(args.close),
               broadcast=args.broadcast, audience=settings.jwt_audience,
               issuer=settings.jwt_issuer))
    return 0


def serve(settings: Settings, app_uri: str | None = None) -> int:
    """Run gunicorn with pushsvc's settings, serving pushsvc's app or ``app_uri``'s."""
    from gunicorn.app.base import BaseApplication

    class _PushsvcApplication(BaseApplication):
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{_bind_host(settings.host)}:{settings.port}",
                "workers": 1,  # rooms and long-polling sessions live in one process
                "worker_class": WORKER_CLASS,
                "worker_connections": settings.worker_connections,
                # gunicorn wants whole seconds; rounding down keeps the exit within the grace.
                "graceful_timeout": max(1, int(settings.shutdown_grace_seconds)),
                "control_socket_disable": True,
                "loglevel": settings.log_level.lower(),
                "errorlog": "-",
                "accesslog": None,
                # gunicorn's lines go through the root handler: one format (pushsvc.run.logs).
                "logger_class": LOGGER_CLASS,
                "proc_name": "pushsvc",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Runs in the worker, after gevent's monkey.patch_all().
            from emitter import ConfigError

            try:
                if app_uri is None:
                    from pushsvc.run.wsgi import build_app

                    return build_app(settings)
                return _import_app(app_uri)
            except ConfigError as exc:
                # A kubeconfig that is YAML but not usable: one line, and the worker's exit
                # status makes gunicorn stop with it (3, its "worker failed to boot").
                log.error("pushsvc: %s", exc)
                sys.exit(EXIT_CONFIG)

    log.info(
        "pushsvc serve: %s, binding %s:%d, 1 worker (%s), worker_connections=%d, grace %.1f s",
        app_uri or "pushsvc's own app", settings.host, settings.port,
        WORKER_CLASS, settings.worker_connections,
        settings.shutdown_grace_seconds,
    )
    _raise_fd_limit(settings.worker_connections, settings.max_sessions_total)
    _PushsvcApplication().run()
    return 0


def _raise_fd_limit(worker_connections: int, max_sessions: int) -> None:
    """Lift the soft file-descriptor limit so every connection allowed can really be open:
    gunicorn's worker_connections (HTTP requests) and the WebSockets, which leave gunicorn's
    pool once open (one descriptor each, bounded by PUSHSVC_MAX_SESSIONS_TOTAL).

    Past ``ulimit -n`` accept() fails and even health checks hang; say so at start-up
    instead of at the 1,025th client.
    """
    needed = worker_connections + max_sessions
    wanted = needed + 256  # listeners, the watch, logs, health checks
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "file-descriptor limit %d is below PUSHSVC_WORKER_CONNECTIONS=%d plus "
            "PUSHSVC_MAX_SESSIONS_TOTAL=%d: connections past it will fail; raise the hard "
            "limit (ulimit -Hn) or lower the settings", soft, worker_connections, max_sessions,
        )


def _import_app(app_uri: str) -> Any:
    """The user's WSGI app, imported as gunicorn would (the current folder on sys.path)."""
    from gunicorn.util import import_app

    from pushsvc.service import find_service

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    app = import_app(app_uri)
    if find_service(app) is None:
        log.warning("%s has no pushsvc (call pushsvc.init_app(app)): served without push, "
                    "and SIGTERM does not drain Socket.IO clients", app_uri)
    return app


def _app_problem(app_uri: str) -> str | None:
    """Why APP cannot be the app to serve, found without importing it (the worker does that,
    after gevent's patching): a typo would otherwise be a worker traceback and exit 4."""
    module = app_uri.partition(":")[0]
    top = module.partition(".")[0]
    if not top.isidentifier():
        return f"APP {app_uri!r} is not module:variable (e.g. myapp:app)"
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if importlib.util.find_spec(top) is None:
        return (f"APP {app_uri}: no module {top!r} in the current folder ({os.getcwd()}) or "
                "on PYTHONPATH")
    return None


def _kubeconfig_problem(settings: Settings) -> str | None:
    """Why the Kubernetes bus could not read its kubeconfig, checked before gunicorn starts.

    The worker builds the bus (after gevent's patching; kubernetes must not be imported
    here), and a bad file there was a traceback and gunicorn's "Worker failed to boot".
    This reads the file the bus would read, as YAML only, to say so in one line.
    """
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and _SA_TOKEN.exists()
    if settings.bus == "memory" or (settings.bus == "auto" and not settings.kubeconfig):
        return None  # auto: the kubernetes bus only with PUSHSVC_KUBECONFIG or in a pod
    if settings.kubeconfig:
        path = Path(settings.kubeconfig).expanduser()
        if not path.is_file():
            return f"kubeconfig {settings.kubeconfig} (PUSHSVC_KUBECONFIG) does not exist"
    elif in_cluster:
        return None
    else:
        env = os.environ.get("KUBECONFIG", "")
        candidates = [Path(p).expanduser() for p in env.split(os.pathsep) if p] or [
            Path("~/.kube/config").expanduser()]
        found = [p for p in candidates if p.is_file()]
        if not found:
            where = (f"$KUBECONFIG names {env}, which does not exist" if env else
                     f"no {candidates[0]} and KUBECONFIG is unset")
            return (f"PUSHSVC_BUS=kubernetes but no kubeconfig: {where} (set "
                    "PUSHSVC_KUBECONFIG, or run in a pod)")
        path = found[0]
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return f"kubeconfig {path} cannot be read: {exc.strerror}"
    except yaml.YAMLError as exc:
        return f"kubeconfig {path} is not valid YAML: {yaml_error_line(exc)}"
    except UnicodeDecodeError:
        return f"kubeconfig {path} is not UTF-8 text"
    if not isinstance(loaded, dict):
        return f"kubeconfig {path} is not a kubeconfig (no mapping of clusters, users, contexts)"
    return None


def yaml_error_line(exc: Exception) -> str:
    """A PyYAML error on one line: what and where (its own text spans several lines)."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def demo(argv: Sequence[str]) -> int:
    # Imported here: the demo brings in pushsvc.testing, which `serve` never needs.
    from pushsvc.run.demo import main as demo_main

    return demo_main(list(argv))


def _describe(exc: ValidationError) -> str:
    """One line per error, without the input values: pydantic's own text would print every
    setting it was given, PUSHSVC_AUTH_TOKEN included."""
    from pushsvc.settings import ENV_PREFIX

    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        lines.append(f"  {ENV_PREFIX}{where.upper()}: {error['msg']}" if where
                     else f"  {error['msg']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] in (["--version"], ["-V"]):  # works in any install
        print(f"pushsvc {version()}")
        return 0
    missing = missing_server_modules()
    if missing:
        print(f"pushsvc: the server is not installed (no {', '.join(missing)}); this is the "
              "notifier-only install (pushsvc-notify works): pip install 'pushsvc[server]'",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        try:
            return _main(args_list)
        finally:  # also after argparse's --help exit: a closed pipe shows here, not at exit
            sys.stdout.flush()
    except BrokenPipeError:
        # `pushsvc settings | head`: the reader left. Exit as quietly as a killed `cat` would;
        # stdout is pointed at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what the shell reports for a process the pipe stopped


def _main(args_list: list[str]) -> int:
    from pydantic import ValidationError

    from pushsvc.settings import Settings, unknown_env_warnings

    if args_list[:1] == ["demo"]:
        return demo(args_list[1:])
    args = _parser().parse_args(args_list)
    if args.command == "settings":
        print(settings_markdown() if args.markdown else settings_help())
        return 0
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"pushsvc: invalid configuration:\n{_describe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "token":
        return mint_token(args, settings)
    from pushsvc.run.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format, pod=settings.pod_name)
    for line in unknown_env_warnings():
        log.warning("%s", line)
    problem = _kubeconfig_problem(settings)
    if problem:
        print(f"pushsvc: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if args.app is not None and (problem := _app_problem(args.app)):
        print(f"pushsvc: {problem}", file=sys.stderr)
        return EXIT_USAGE
    return serve(settings, args.app)


if __name__ == "__main__":
    sys.exit(main())
