"""``pushsvc-notify``: the emitter for shell scripts and non-Python jobs.

Exit status 0 on success; otherwise one clear line on stderr and a non-zero status
(2 bad usage or input, 3 configuration, 4 permission, 5 API unavailable or refused).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from emitter.client import Emitter
from emitter.errors import ApiError, ConfigError, MessageError, PermissionDeniedError, PushError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pushsvc-notify",
        description="Push a Socket.IO event to pushsvc clients on every pod (one core/v1 Event).",
        epilog="Configuration: in-cluster ServiceAccount, else --kubeconfig / $KUBECONFIG / "
        "~/.kube/config. The ServiceAccount needs 'create events' (rbac/notifier.yaml).",
    )
    p.add_argument("--event", required=True, help="Socket.IO event name, e.g. nuke_response")
    p.add_argument("--data", default="null",
                   help="JSON value, or @FILE to read JSON from FILE ('@-' = stdin). Default null.")
    p.add_argument("--room", help="room to notify (default: every client)")
    p.add_argument("--skip-sid", help="a client sid that must not receive it")
    p.add_argument("--sio-namespace", default="/", help="Socket.IO namespace (default /)")
    p.add_argument("--namespace", help="bus Kubernetes namespace (default $PUSHSVC_BUS_NAMESPACE)")
    p.add_argument("--channel", help="bus channel (default $PUSHSVC_BUS_CHANNEL or pushsvc)")
    p.add_argument("--kubeconfig", help="kubeconfig path")
    p.add_argument("--deadline", type=float, default=30.0,
                   help="seconds to keep retrying 429/5xx/connection errors (default 30)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    return p


def _load_data(spec: str) -> Any:
    if spec.startswith("@"):
        source = spec[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text()
        except OSError as exc:
            raise MessageError(f"cannot read --data file {source}: {exc.strerror}") from exc
    else:
        text = spec
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MessageError(f"--data is not valid JSON: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        data = _load_data(args.data)
        emitter = Emitter(namespace=args.namespace, channel=args.channel,
                          kubeconfig=args.kubeconfig, retry_deadline_seconds=args.deadline)
        with emitter:
            name = emitter.notify(args.event, data, room=args.room,
                                  namespace=args.sio_namespace, skip_sid=args.skip_sid)
    except MessageError as exc:
        return _fail(exc, 2)
    except ConfigError as exc:
        return _fail(exc, 3)
    except PermissionDeniedError as exc:
        return _fail(exc, 4)
    except (ApiError, PushError) as exc:
        return _fail(exc, 5)
    if not args.quiet:
        print(f"sent {name} to namespace {emitter.namespace} channel {emitter.channel}")
    return 0


def _fail(exc: Exception, code: int) -> int:
    print(f"pushsvc-notify: error: {exc}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
