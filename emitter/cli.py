"""``pushsvc-notify``: the emitter for shell scripts and non-Python jobs.

Exit status 0 on success; otherwise one clear line on stderr and a non-zero status
(2 bad usage or input, 3 configuration, 4 permission, 5 API unavailable or refused).

``--stdin`` sends many notifications: one JSON object per line,
``{"event": ..., "data": ..., "to": ..., "user": ..., "skip_sid": ..., "sio_namespace": ...}``
(only ``event`` is required; ``"room"`` is the alias of ``"to"``, as ``--room`` is of ``--to``;
``--to`` / ``--user`` / ``--sio-namespace`` are the defaults). ``"sio_namespace"`` is the
Socket.IO namespace, as ``--sio-namespace`` is (``"namespace"`` is its older alias, from
``notify()``'s argument); ``--namespace`` is the Kubernetes one, as in kubectl.
Lines are read as they come and share Events (a batch window; at most 50 messages per
Event). A bad line stops the run: every line before it is sent, it and everything after it are
not, and the error names its line number (exit 2). When an Event cannot be created the run
stops too, and the error says how many messages were not sent. Nothing is dropped without a
line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from emitter import __version__
from emitter.client import Emitter
from emitter.errors import (
    ApiError,
    BatchError,
    ConfigError,
    MessageError,
    PermissionDeniedError,
    PushError,
)

#: --stdin: notifications issued within this window share an Event.
STDIN_BATCH_WINDOW_SECONDS = 0.005
_LINE_KEYS = frozenset({"event", "data", "to", "room", "user", "skip_sid", "sio_namespace",
                        "namespace"})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pushsvc-notify",
        description="Push a Socket.IO event to pushsvc clients on every pod (one core/v1 Event).",
        epilog="Configuration: in-cluster ServiceAccount, else --kubeconfig / $KUBECONFIG / "
        "~/.kube/config. The ServiceAccount needs 'create events' (rbac/notifier.yaml; for "
        "a Job in another namespace, manifests/remote-notifier).",
    )
    p.add_argument("--version", action="version", version=f"pushsvc-notify {__version__}")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--event", help="Socket.IO event name, e.g. nuke_response")
    what.add_argument("--stdin", action="store_true",
                      help='read notifications from stdin, one JSON object per line: '
                      '{"event": ..., "data": ..., "to": ..., "user": ..., "skip_sid": ..., '
                      '"sio_namespace": ...} ("room" is the alias of "to"); they share Events')
    p.add_argument("--data", default=None,
                   help="JSON value, or @FILE to read JSON from FILE ('@-' = stdin). Default null.")
    p.add_argument("--to", metavar="ROOM", help="room to notify (default: every client; "
                   "with --stdin, for lines without one)")
    p.add_argument("--room", metavar="ROOM", help="alias of --to")
    p.add_argument("--user", action="append", default=None, metavar="SUB",
                   help="a user (token subject) to notify on every connection, any pod: the "
                   "room user:SUB; repeatable; with --to, both; with --stdin, for lines "
                   "without one")
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


class LineError(MessageError):
    """A --stdin line that is not a notification; carries its line number."""

    def __init__(self, number: int, reason: str, *, sent: int) -> None:
        self.number = number
        super().__init__(f"line {number}: {reason}; the {sent} notification(s) before it were "
                         f"sent, nothing from line {number} on was sent")


def _notification(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError('not a JSON object like {"event": "name", "data": ...}')
    unknown = sorted(set(value) - _LINE_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} (allowed: "
                         f"{', '.join(sorted(_LINE_KEYS))})")
    if not isinstance(value.get("event"), str):
        raise ValueError('"event" must be a non-empty string')
    if "to" in value and "room" in value:
        raise ValueError('"to" and "room" given: pass "to" only ("room" is its alias)')
    if "sio_namespace" in value and "namespace" in value:
        raise ValueError('"sio_namespace" and "namespace" given: pass "sio_namespace" only '
                         '("namespace" is its alias)')
    return value


class StoppedError(PushError):
    """--stdin: Events could not be created, so reading stopped; says what was not sent."""

    def __init__(self, failure: BatchError, *, queued: int, stopped_at: int | None) -> None:
        self.failure = failure
        where = ("" if stopped_at is None else
                 f"; reading stopped at line {stopped_at}, nothing from it on was sent")
        super().__init__(f"{failure.failed_messages} of {queued} notification(s) read were not "
                         f"sent{where}; first error: {failure.__cause__}")
        self.__cause__ = failure.__cause__


def send_lines(emitter: Emitter, lines: Iterable[str], *, to: str | None,
               sio_namespace: str, user: list[str] | None = None) -> tuple[int, int]:
    """Notify one message per line (blank lines skipped); returns (messages, Events).

    Raises :class:`LineError` for a bad line — after sending every line before it — and
    :class:`StoppedError` when Events could not be created.
    """
    sent = 0
    events: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = _notification(line)
            name = emitter.notify(item["event"], item.get("data"),
                                  to=item.get("to", item.get("room", to)),
                                  namespace=item.get("sio_namespace",
                                                     item.get("namespace", sio_namespace)),
                                  skip_sid=item.get("skip_sid"),
                                  user=item.get("user", user))
        except (ValueError, MessageError) as exc:
            _flush(emitter, queued=sent, stopped_at=number)  # the lines before it go out
            raise LineError(number, str(exc).removesuffix("; nothing was sent"),
                            sent=sent) from exc
        except BatchError as exc:  # an earlier Event failed; this line was not queued
            failures = list(exc.failures)
            try:
                emitter.flush()
            except BatchError as more:
                failures += more.failures
            raise StoppedError(BatchError(failures), queued=sent, stopped_at=number) from exc
        events.add(name)
        sent += 1
    _flush(emitter, queued=sent, stopped_at=None)
    return sent, len(events)


def _flush(emitter: Emitter, *, queued: int, stopped_at: int | None) -> None:
    try:
        emitter.flush()
    except BatchError as exc:
        raise StoppedError(exc, queued=queued, stopped_at=stopped_at) from exc


def _read_lines(stream: TextIO) -> Iterable[str]:
    # Not ``for line in stream``: that reads ahead in blocks, holding lines a slow producer
    # has already written.
    while line := stream.readline():
        yield line


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.to is not None and args.room is not None:
        parser.error("--to and --room given: pass --to only (--room is its alias)")
    to = args.to if args.to is not None else args.room
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.stdin:
        if args.data is not None or args.skip_sid is not None:
            print("pushsvc-notify: error: --data and --skip-sid go in each line with --stdin",
                  file=sys.stderr)
            return 2
        return _main_stdin(args, to)
    try:
        data = _load_data(args.data if args.data is not None else "null")
        emitter = Emitter(bus_namespace=args.namespace, channel=args.channel,
                          kubeconfig=args.kubeconfig, retry_deadline_seconds=args.deadline)
        with emitter:
            name = emitter.notify(args.event, data, to=to,
                                  namespace=args.sio_namespace, skip_sid=args.skip_sid,
                                  user=args.user)
    except MessageError as exc:
        return _fail(exc, 2)
    except ConfigError as exc:
        return _fail(exc, 3)
    except PermissionDeniedError as exc:
        return _fail(exc, 4)
    except (ApiError, PushError) as exc:
        return _fail(exc, 5)
    if not args.quiet:
        print(f"sent {name} to namespace {emitter.bus_namespace} channel {emitter.channel}")
    return 0


def _main_stdin(args: argparse.Namespace, to: str | None) -> int:
    try:
        emitter = Emitter(bus_namespace=args.namespace, channel=args.channel,
                          kubeconfig=args.kubeconfig, retry_deadline_seconds=args.deadline,
                          batch_window_seconds=STDIN_BATCH_WINDOW_SECONDS)
        with emitter:
            sent, events = send_lines(emitter, _read_lines(sys.stdin), to=to,
                                      sio_namespace=args.sio_namespace, user=args.user)
    except StoppedError as exc:
        return _fail(exc, 4 if isinstance(exc.failure.__cause__, PermissionDeniedError) else 5)
    except MessageError as exc:
        return _fail(exc, 2)
    except ConfigError as exc:
        return _fail(exc, 3)
    except (ApiError, PushError) as exc:
        return _fail(exc, 5)
    if not args.quiet:
        print(f"sent {sent} notification(s) in {events} Event(s) to namespace "
              f"{emitter.bus_namespace} channel {emitter.channel}")
    return 0


def _fail(exc: Exception, code: int) -> int:
    print(f"pushsvc-notify: error: {exc}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
