"""The emulator's WSGI application: authentication, APF, routing, background jobs and stats.

Served by gevent.pywsgi: one OS thread, cooperative greenlets, so every store operation is
atomic without locks, and a watch stream is a generator that pywsgi writes chunk by chunk.
A request is authenticated (bearer token, or anonymous when allowed), admitted by API Priority
and Fairness, then routed: Events (events_http.py), Jobs (jobs_http.py), Leases
(leases_http.py), discovery (discovery.py); ``/_emulator/`` is the control side (control.py).
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import orjson

from . import apf, discovery, leases, tls
from .control import control
from .events_http import EventsAPI
from .httputil import (
    JSON_HEADERS,
    STATUS_TEXT,
    StartResponse,
    drain,
    json_response,
    object_name,
)
from .jobs_http import JobsAPI
from .lease_watch import LeaseChanges
from .leases_http import LeasesAPI
from .objects import LEASE_GROUP
from .rbac import ADMIN_USER, ANONYMOUS_USER, Authorizer, User, user_for
from .status import UNAUTHORIZED, ApiError, forbidden
from .store import DEFAULT_MAX_HISTORY, Store
from .timings import Timings
from .watch import WatchHub
from .wire import Handler, Server

log = logging.getLogger(__name__)


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 0
    state_file: Path | None = None
    rbac_dir: Path | None = None
    anonymous: bool = False
    compaction_interval: float = 300.0
    max_history: int = DEFAULT_MAX_HISTORY  # changes kept for watches to resume from
    event_ttl: float = 3600.0
    tokens: dict[str, str] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None  # (cert, key) to also serve HTTPS on the port
    record_timings: bool = False  # benchmarks: accept/write times per Event (timings.py)
    #: API Priority and Fairness: user name -> (requests per second, burst or None) (apf.py)
    rate_limits: dict[str, tuple[float, int | None]] = field(default_factory=dict)


class Emulator:
    """The WSGI application plus its background jobs."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.store = Store(event_ttl=options.event_ttl, state_file=options.state_file,
                           max_history=options.max_history)
        self.timings = Timings() if options.record_timings else None
        self.hub = WatchHub(self.timings)
        self.store.listeners.append(self.hub)
        self.jobs = JobsAPI(self.store)  # batch/v1 Jobs (jobs.py, jobs_http.py)
        self.lease_changes = LeaseChanges(since=self.store.rv)
        self.store.lease_listeners.append(self.lease_changes)
        self.authz = Authorizer()
        if options.rbac_dir is not None:
            self.authz.load_path(options.rbac_dir)
        for token, user in options.tokens.items():
            if self.store.tokens.get(token) != user:
                self.store.add_token(token, user)
        self.apf = apf.Limiter()
        for name, (rate, burst) in options.rate_limits.items():
            self.apf.configure(name, rate=rate, burst=burst)
        self.fail_next = 0
        self.retry_after = 1
        self.etcd_backup: Any = None  # the control endpoint's snapshot fault
        self.counts = {"creates": 0, "lists": 0, "watches": 0, "gets": 0, "deletes": 0,
                       "requests": 0, "throttled": 0, "lease_lists": 0, "lease_watches": 0,
                       "lease_writes": 0}
        self.events = EventsAPI(self)
        self.leases = LeasesAPI(self)
        self.server: Server | None = None
        self._jobs: list[gevent.Greenlet] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> int:
        self.server = Server((self.options.host, self.options.port), self, log=None,
                              error_log=logging.getLogger(__name__ + ".pywsgi"),
                              handler_class=Handler)
        if self.options.tls is not None:
            self.server.tls_context = tls.server_context(*self.options.tls)
        self.server.start()
        self._jobs = [gevent.spawn(self._compaction_loop), gevent.spawn(self._ttl_loop)]
        return int(self.server.server_port)

    def stop(self) -> None:
        for job in self._jobs:
            job.kill(block=False)
        self.hub.drop_all()
        self.jobs.hub.drop_all()
        if self.server is not None:
            self.server.stop(timeout=2)
        self.store.close()

    def _compaction_loop(self) -> None:
        while True:
            gevent.sleep(self.options.compaction_interval)
            self.store.compact_tick()

    def _ttl_loop(self) -> None:
        interval = max(0.05, min(1.0, self.options.event_ttl / 10))
        while True:
            self.store.expire()
            gevent.sleep(interval)

    # ----------------------------------------------------------------- WSGI
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            try:
                return control(self, environ, start_response, path)
            except ApiError as err:
                return json_response(start_response, err.code, err.status())
        self.counts["requests"] += 1
        if self.fail_next > 0:
            # API Priority and Fairness: plain text, Retry-After, no Status object.
            self.fail_next -= 1
            self.counts["throttled"] += 1
            drain(environ)
            body = b"Too many requests, please try again later.\n"
            start_response("429 Too Many Requests", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Retry-After", str(self.retry_after)),
                ("X-Content-Type-Options", "nosniff"),
                ("Content-Length", str(len(body)))])
            return [body]
        try:
            user = self._authenticate(environ)
            if self.apf.limited(user):
                # After authentication, before authorization, as APF's filter sits.
                key = apf.request_key(user.name, environ, object_name(environ))
                retry = self.apf.admit(user, key)
                if retry is not None:
                    self.counts["throttled"] += 1
                    drain(environ)
                    start_response("429 Too Many Requests", apf.headers(retry))
                    return [apf.BODY]
            return self._route(environ, start_response, path, user)
        except ApiError as err:
            if err.code == 413:
                start_response("413 Request Entity Too Large",
                               [*JSON_HEADERS, ("Connection", "close")])
                return [orjson.dumps(err.status())]
            retry = (err.details or {}).get("retryAfterSeconds")
            if retry:
                # kube-apiserver turns a Status's retryAfterSeconds into a Retry-After header
                body = orjson.dumps(err.status())
                start_response(f"{err.code} {STATUS_TEXT.get(err.code, 'Unknown')}",
                               [*JSON_HEADERS, ("Retry-After", str(retry)),
                                ("Content-Length", str(len(body)))])
                return [body]
            return json_response(start_response, err.code, err.status())

    def _authenticate(self, environ: dict[str, Any]) -> User:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() == "bearer ":
            name = self.store.tokens.get(header[7:].strip())
            if name is None:
                raise UNAUTHORIZED
            return user_for(name)
        if header:
            raise UNAUTHORIZED
        if self.options.anonymous:
            return user_for(ANONYMOUS_USER)
        raise UNAUTHORIZED

    def authorize(self, user: User, verb: str, namespace: str | None,
                   name: str | None = None, *, resource: str = "events",
                   group: str = "") -> None:
        if not self.authz.allowed(user, verb, namespace, resource, group, name):
            raise forbidden(user.name, verb, namespace, name, resource, group)

    def _route(self, environ: dict[str, Any], start_response: StartResponse, path: str,
               user: User) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
            watch_path = bool(rest) and rest[0] == "watch"
            if watch_path:
                rest = rest[1:]
            namespace: str | None = None
            if len(rest) >= 2 and rest[0] == "namespaces":
                namespace = rest[1]
                rest = rest[2:]
            if rest and rest[0] == "events" and len(rest) <= 2:
                name = rest[1] if len(rest) == 2 else None
                return self.events.serve(environ, start_response, method, namespace, name,
                                         user, watch_path)
        if parts[:3] == ["apis", "batch", "v1"] and len(parts) > 3:
            return self.jobs.serve(self, environ, start_response, parts[3:], user)
        if parts[:3] == ["apis", LEASE_GROUP, "v1"]:
            rest = parts[3:]
            lease_ns: str | None = None
            if len(rest) >= 2 and rest[0] == "namespaces":
                lease_ns = rest[1]
                rest = rest[2:]
            if rest and rest[0] == leases.RESOURCE and len(rest) <= 2:
                return self.leases.serve(environ, start_response, method, lease_ns,
                                         rest[1] if len(rest) == 2 else None, user)
        doc = discovery.document(path, self.options.host, self.server_port)
        if doc is not None and method == "GET":
            return json_response(start_response, 200, doc)
        raise ApiError(404, "the server could not find the requested resource",
                       details={})

    @property
    def server_port(self) -> int:
        return int(self.server.server_port) if self.server is not None else 0

    def stats(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            **self.counts,
            "open_watches": len(self.hub.watchers),
            "open_lease_watches": len(self.lease_changes.hub.watchers),
            "stored_leases": sum(len(b) for b in self.store.leases.values()),
            "lease_bytes": sum(len(raw) for b in self.store.leases.values()
                               for _, raw in b.values()),
            "apf": self.apf.stats(),
            "open_job_watches": len(self.jobs.hub.watchers),
            "job_requests": list(self.jobs.requests),
            "watch_seconds_left": sorted(round(w.deadline - time.monotonic(), 1)
                                         for w in self.hub.watchers),
            "stored_events": self.store.count,
            "history": len(self.store.history),
            "max_history": self.store.max_history,
            "resource_version": str(self.store.rv),
            "compacted_resource_version": str(self.store.compacted),
            "expired": self.store.stats["expired"],
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "max_rss_kib": usage.ru_maxrss,
        }



__all__ = ["ADMIN_USER", "Emulator", "Options"]
