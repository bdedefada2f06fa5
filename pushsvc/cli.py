"""The ``pushsvc`` command: ``serve`` (gunicorn, one gevent-websocket worker) and ``demo``.

``serve`` runs gunicorn in this process through ``gunicorn.app.base.BaseApplication``.
The master imports neither Flask-SocketIO nor kubernetes: the app is built in
the worker (``load()``), after the gevent worker has monkey-patched, so the
Kubernetes watch and every socket cooperate with gevent. All configuration is
environment variables (``pushsvc serve --help`` lists them).
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from pushsvc.settings import ENV_PREFIX, Settings, settings_docs

log = logging.getLogger(__name__)

WORKER_CLASS = "pushsvc.worker.PushsvcWorker"
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def settings_help() -> str:
    """Every setting: env var, unit/type, default, description (from the Settings model)."""
    lines = ["settings (environment variables):", ""]
    for row in settings_docs():
        lines.append(f"  {row.env}  [{row.kind}, default: {row.default}]")
        lines.extend(
            textwrap.wrap(row.description, width=88, initial_indent="      ",
                          subsequent_indent="      ")
        )
    return "\n".join(lines)


def settings_markdown() -> str:
    """The same table in Markdown, for the README."""
    rows = ["| env var | default | unit/type | meaning |", "|---|---|---|---|"]
    for row in settings_docs():
        desc = row.description.replace("|", "\\|")
        rows.append(f"| `{row.env}` | `{row.default}` | {row.kind} | {desc} |")
    return "\n".join(rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushsvc", description="Kubernetes-native Socket.IO push for Flask."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "serve",
        help="serve the push server (gunicorn, one gevent-websocket worker)",
        description="Serve pushsvc with gunicorn: one gevent-websocket worker, bound to "
        "PUSHSVC_HOST:PUSHSVC_PORT. Configure it with the environment variables below.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    # python-socketio/engineio add their own handler when their level is unset: avoid
    # duplicate lines by giving them a level and letting them propagate to ours.
    for name in ("socketio.server", "engineio.server", "socketio.client", "engineio.client"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # gevent-websocket logs every request at INFO (an access log): keep only its problems.
    logging.getLogger("geventwebsocket.handler").setLevel(logging.WARNING)


def serve(settings: Settings) -> int:
    from gunicorn.app.base import BaseApplication

    class _PushsvcApplication(BaseApplication):
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{_bind_host(settings.host)}:{settings.port}",
                "workers": 1,  # rooms and long-polling sessions live in one process
                "worker_class": settings.engine_worker_class or WORKER_CLASS,
                "worker_connections": settings.worker_connections,
                # gunicorn wants whole seconds; rounding down keeps the exit within the grace.
                "graceful_timeout": max(1, int(settings.shutdown_grace_seconds)),
                "control_socket_disable": True,
                "loglevel": settings.log_level.lower(),
                "errorlog": "-",
                "accesslog": None,
                "proc_name": "pushsvc",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Runs in the worker, after gevent's monkey.patch_all().
            from pushsvc.wsgi import build_app

            return build_app(settings)

    log.info(
        "pushsvc serve: binding %s:%d, 1 worker (%s), worker_connections=%d, grace %.1f s",
        settings.host, settings.port, WORKER_CLASS, settings.worker_connections,
        settings.shutdown_grace_seconds,
    )
    _raise_fd_limit(settings.worker_connections)
    _PushsvcApplication().run()
    return 0


def _raise_fd_limit(worker_connections: int) -> None:
    """Lift the soft file-descriptor limit so worker_connections can really be reached.

    Past ``ulimit -n`` accept() fails and even health checks hang; say so at start-up
    instead of at the 1,025th client.
    """
    wanted = worker_connections + 256  # listeners, the watch, logs, health checks
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < worker_connections:
        log.warning(
            "file-descriptor limit %d is below PUSHSVC_WORKER_CONNECTIONS=%d: "
            "connections past it will fail; raise the hard limit (ulimit -Hn) or lower "
            "the setting", soft, worker_connections,
        )


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def demo(argv: Sequence[str]) -> int:
    # Imported here: the demo brings in pushsvc.testing, which `serve` never needs.
    from pushsvc.demo import main as demo_main

    return demo_main(list(argv))


def _describe(exc: ValidationError) -> str:
    """One line per error, without the input values: pydantic's own text would print every
    setting it was given, PUSHSVC_AUTH_TOKEN included."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        lines.append(f"  {ENV_PREFIX}{where.upper()}: {error['msg']}" if where
                     else f"  {error['msg']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
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
        return 2
    if args.command == "token":
        return mint_token(args, settings)
    configure_logging(settings.log_level)
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
