"""``python -m pushsvc.testing.kubeapi``: run the Kubernetes API emulator as a process.

Prints ``kubeapi listening on http://HOST:PORT`` once it accepts connections and writes an
admin kubeconfig; SIGTERM/SIGINT close watch streams, flush the state file and exit 0.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import ipaddress  # noqa: E402
import logging  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from .apf import parse_limit  # noqa: E402
from .kubeconfig import write_kubeconfig  # noqa: E402
from .rbac import ADMIN_USER  # noqa: E402
from .server import Emulator, Options  # noqa: E402
from .store import DEFAULT_MAX_HISTORY  # noqa: E402
from .tls import ensure_certificate  # noqa: E402

log = logging.getLogger("pushsvc.testing.kubeapi")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pushsvc.testing.kubeapi",
                                description="Kubernetes API emulator (core/v1 Events).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--kubeconfig-out", type=Path, required=True)
    p.add_argument("--state-file", type=Path)
    p.add_argument("--rbac-dir", type=Path,
                   help="a folder of RBAC YAML (rbac/), or one multi-document file such as "
                        "`kubectl kustomize` output; other kinds in it are skipped")
    p.add_argument("--anonymous", action="store_true",
                   help="let requests without a token in as system:anonymous")
    p.add_argument("--compaction-interval", type=float, default=300.0,
                   help="seconds between compactions, each to the revision seen at the "
                        "previous one (kube-apiserver's --etcd-compaction-interval)")
    p.add_argument("--max-history", type=int, default=DEFAULT_MAX_HISTORY,
                   help="changes kept for watches to resume from; the oldest are compacted "
                        "past it (default %(default)s)")
    p.add_argument("--event-ttl", type=float, default=3600.0)
    p.add_argument("--token", action="append", default=[], metavar="TOKEN=USER")
    p.add_argument("--plain-http-kubeconfig", action="store_true",
                   help="write an http:// kubeconfig (kubectl then sends no token)")
    p.add_argument("--record-timings", action="store_true",
                   help="benchmarks: record when each Event was accepted and written to each "
                        "watch (GET /_emulator/timings); nothing is added to the Events")
    p.add_argument("--rate-limit", action="append", default=[], metavar="USER=RATE[:BURST]",
                   help="API Priority and Fairness: USER (e.g. system:serviceaccount:NS:SA) "
                        "gets RATE requests/s with a BURST (default RATE); past it, 429 with "
                        "Retry-After. Repeatable; also POST /_emulator/apf")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not ipaddress.ip_address(args.host).is_loopback:
        print(f"refusing to listen on {args.host}: loopback addresses only", file=sys.stderr)
        return 2
    tokens: dict[str, str] = {}
    for item in args.token:
        token, sep, user = item.partition("=")
        if not sep or not token or not user:
            print(f"--token wants TOKEN=USER, got {item!r}", file=sys.stderr)
            return 2
        tokens[token] = user
    rate_limits: dict[str, tuple[float, int | None]] = {}
    for item in args.rate_limit:
        try:
            name, rate, burst = parse_limit(item)
        except ValueError as err:
            print(str(err), file=sys.stderr)
            return 2
        rate_limits[name] = (rate, burst)
    options = Options(host=args.host, port=args.port, state_file=args.state_file,
                      rbac_dir=args.rbac_dir, anonymous=args.anonymous,
                      compaction_interval=args.compaction_interval,
                      max_history=args.max_history, event_ttl=args.event_ttl,
                      tokens=tokens, record_timings=args.record_timings,
                      rate_limits=rate_limits)
    cert_dir = args.state_file.parent if args.state_file else args.kubeconfig_out.parent
    options.tls = ensure_certificate(cert_dir, args.host)
    emulator = Emulator(options)
    # Keep the admin token across restarts on the same state file: clients hold the kubeconfig.
    admin_token = next((t for t, u in emulator.store.tokens.items() if u == ADMIN_USER), None)
    if admin_token is None:
        admin_token = secrets.token_urlsafe(24)
        emulator.store.add_token(admin_token, ADMIN_USER)
    port = emulator.start()
    url = f"http://{args.host}:{port}"
    ca = None
    server = url
    if options.tls is not None and not args.plain_http_kubeconfig:
        ca = options.tls[0].read_bytes()
        server = f"https://{args.host}:{port}"
    write_kubeconfig(args.kubeconfig_out, server=server, token=admin_token, namespace="default",
                     user=ADMIN_USER, ca_pem=ca)
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    log.info("listening on %s (state file %s, compaction every %ss, at most %d changes of "
             "history, event TTL %ss)", url, args.state_file, args.compaction_interval,
             args.max_history, args.event_ttl)
    print(f"kubeapi listening on {url}", flush=True)
    stop.wait()
    log.info("shutting down")
    emulator.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
