"""The HTTP side of the emulator: routing, authentication, APF, RBAC, faults and discovery.

Served by gevent.pywsgi: one OS thread, cooperative greenlets, so every store operation is
atomic without locks, and a watch stream is a generator that pywsgi writes chunk by chunk.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import random
import resource
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import gevent
import orjson
from gevent.pywsgi import WSGIHandler, WSGIServer

from . import apf, discovery, leases, tls, wire
from . import table as tables
from .jobs_http import JobsAPI
from .lease_watch import LeaseChanges
from .rbac import ADMIN_USER, ANONYMOUS_USER, Authorizer, User, user_for
from .selectors import combine, parse_field_selector, parse_label_selector
from .status import (
    EXPIRED_STATUS,
    INCONSISTENT_CONTINUE,
    UNAUTHORIZED,
    ApiError,
    bad_request,
    forbidden,
    status_body,
)
from .store import DEFAULT_MAX_HISTORY, LEASE_GROUP, Store
from .timings import Timings
from .validation import validate_event
from .watch import Watcher, WatchHub

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
StartResponse = Callable[..., Callable[[bytes], Any]]
_JSON = [("Content-Type", "application/json")]


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
        self._snapshot: Any = None
        self.counts = {"creates": 0, "lists": 0, "watches": 0, "gets": 0, "deletes": 0,
                       "requests": 0, "throttled": 0, "lease_lists": 0, "lease_watches": 0,
                       "lease_writes": 0}
        self.server: WSGIServer | None = None
        self._jobs: list[gevent.Greenlet] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> int:
        self.server = _Server((self.options.host, self.options.port), self, log=None,
                              error_log=logging.getLogger(__name__ + ".pywsgi"),
                              handler_class=_Handler)
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
                return self._control(environ, start_response, path)
            except ApiError as err:
                return _json(start_response, err.code, err.status())
        self.counts["requests"] += 1
        if self.fail_next > 0:
            # API Priority and Fairness: plain text, Retry-After, no Status object.
            self.fail_next -= 1
            self.counts["throttled"] += 1
            _drain(environ)
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
                key = apf.request_key(user.name, environ, _object_name(environ))
                retry = self.apf.admit(user, key)
                if retry is not None:
                    self.counts["throttled"] += 1
                    _drain(environ)
                    start_response("429 Too Many Requests", apf.headers(retry))
                    return [apf.BODY]
            return self._route(environ, start_response, path, user)
        except ApiError as err:
            if err.code == 413:
                start_response("413 Request Entity Too Large",
                               [*_JSON, ("Connection", "close")])
                return [orjson.dumps(err.status())]
            retry = (err.details or {}).get("retryAfterSeconds")
            if retry:
                # kube-apiserver turns a Status's retryAfterSeconds into a Retry-After header
                body = orjson.dumps(err.status())
                start_response(f"{err.code} {_STATUS_TEXT.get(err.code, 'Unknown')}",
                               [*_JSON, ("Retry-After", str(retry)),
                                ("Content-Length", str(len(body)))])
                return [body]
            return _json(start_response, err.code, err.status())

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

    def _authorize(self, user: User, verb: str, namespace: str | None,
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
                return self._events(environ, start_response, method, namespace, name, user,
                                    watch_path)
        if parts[:3] == ["apis", "batch", "v1"] and len(parts) > 3:
            return self.jobs.serve(self, environ, start_response, parts[3:], user)
        if parts[:3] == ["apis", LEASE_GROUP, "v1"]:
            rest = parts[3:]
            lease_ns: str | None = None
            if len(rest) >= 2 and rest[0] == "namespaces":
                lease_ns = rest[1]
                rest = rest[2:]
            if rest and rest[0] == leases.RESOURCE and len(rest) <= 2:
                return self._leases(environ, start_response, method, lease_ns,
                                    rest[1] if len(rest) == 2 else None, user)
        doc = discovery.document(path, self.options.host, self.server_port)
        if doc is not None and method == "GET":
            return _json(start_response, 200, doc)
        raise ApiError(404, "the server could not find the requested resource",
                       details={})

    @property
    def server_port(self) -> int:
        return int(self.server.server_port) if self.server is not None else 0

    # --------------------------------------------------------------- events
    def _events(self, environ: dict[str, Any], start_response: StartResponse, method: str,
                namespace: str | None, name: str | None, user: User,
                watch_path: bool) -> Iterable[bytes]:
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""),
                                                keep_blank_values=True).items()}
        watching = watch_path or query.get("watch", "").lower() in ("1", "true")
        as_table = "as=Table" in environ.get("HTTP_ACCEPT", "")
        if method == "GET":
            if watching:
                if name is not None:
                    query["fieldSelector"] = ",".join(
                        s for s in (query.get("fieldSelector"), f"metadata.name={name}") if s)
                self._authorize(user, "watch", namespace)
                return self._watch(environ, start_response, namespace, query, as_table)
            if name is not None:
                self._authorize(user, "get", namespace, name)
                self._check_not_too_large(query)
                self.counts["gets"] += 1
                obj, raw = self.store.get(namespace or "", name)
                if as_table:
                    return _json(start_response, 200, tables.table(
                        [obj], resource_version=obj["metadata"]["resourceVersion"],
                        include=query.get("includeObject", "Metadata")))
                return _raw(start_response, 200, raw)
            self._authorize(user, "list", namespace)
            return self._list(start_response, namespace, query, as_table)
        if namespace is None:
            raise ApiError(405, "the server does not allow this method on the requested "
                                "resource", details={})
        if method == "POST" and name is None:
            self._authorize(user, "create", namespace)
            obj = _read_object(environ, namespace)
            _field_validation(obj, query.get("fieldValidation", ""))
            if query.get("dryRun"):
                validate_event(obj, namespace)
                return _json(start_response, 201, {"kind": "Event", "apiVersion": "v1", **obj})
            validate_event(obj, namespace)
            self.counts["creates"] += 1
            if self.timings is not None:
                self.timings.arriving(environ.get("kubeapi.arrived"))
            _, raw = self.store.create(namespace, obj)
            if self.hub.watchers:
                # One thread: let the watches write the new line before this response does.
                # The notifier waits for the 201; every pod, on the bus's critical path,
                # waits for the line.
                gevent.sleep(0)
            return _raw(start_response, 201, raw)
        if method == "PUT" and name is not None:
            self._authorize(user, "update", namespace, name)
            obj = _read_object(environ, namespace)
            body_name = (obj.get("metadata") or {}).get("name")
            if body_name != name:
                raise bad_request(f"the name of the object ({body_name}) does not match the "
                                  f"name on the URL ({name})")
            validate_event(obj, namespace)
            _, raw = self.store.update(namespace, name, obj)
            return _raw(start_response, 200, raw)
        if method == "PATCH" and name is not None:
            self._authorize(user, "patch", namespace, name)
            patch = _read_object(environ, namespace)
            current, _ = self.store.get(namespace, name)
            merged = _merge_patch(orjson.loads(orjson.dumps(current)), patch)
            validate_event(merged, namespace)
            _, raw = self.store.update(namespace, name, merged)
            return _raw(start_response, 200, raw)
        if method == "DELETE" and name is not None:
            self._authorize(user, "delete", namespace, name)
            preconditions = _delete_preconditions(environ)
            self.counts["deletes"] += 1
            _, raw = self.store.delete(namespace, name, preconditions)
            return _raw(start_response, 200, raw)
        if method == "DELETE":
            self._authorize(user, "deletecollection", namespace)
            _drain(environ)
            pred = combine(parse_label_selector(query.get("labelSelector")),
                           parse_field_selector(query.get("fieldSelector")))
            victims = [n for _, n, obj, _ in self.store.iter_objects(namespace)
                       if pred is None or pred(obj)]
            deleted = [self.store.delete(namespace, n)[0] for n in victims]
            self.counts["deletes"] += len(deleted)
            return _json(start_response, 200, {
                "kind": "EventList", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.store.rv)}, "items": deleted})
        raise ApiError(405, "the server does not allow this method on the requested resource",
                       details={})

    # --------------------------------------------------------------- leases
    def _leases(self, environ: dict[str, Any], start_response: StartResponse, method: str,
                namespace: str | None, name: str | None, user: User) -> Iterable[bytes]:
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""),
                                                keep_blank_values=True).items()}
        scope = {"resource": leases.RESOURCE, "group": LEASE_GROUP}
        selected = parse_label_selector(query.get("labelSelector"))
        if query.get("watch", "").lower() in ("1", "true") and method == "GET":
            self._authorize(user, "watch", namespace, name, **scope)
            self.counts["lease_watches"] += 1
            timeout = _int_param(query, "timeoutSeconds", -1)
            rv_text = query.get("resourceVersion", "")
            try:
                rv = int(rv_text) if rv_text else 0
            except ValueError:
                raise bad_request(f"invalid resource version: {rv_text!r}") from None
            body = self.lease_changes.open(
                self.store, namespace=namespace, predicate=selected, rv=rv,
                timeout_s=float(timeout) if timeout >= 0 else random.uniform(1800, 3600),
                sock=environ.get("kubeapi.socket"))
            write = start_response("200 OK", [("Content-Type", "application/json"),
                                              ("Cache-Control", "no-cache, private")])
            write(b"")
            return body
        if method == "GET" and name is None:
            self._authorize(user, "list", namespace, **scope)
            self.counts["lease_lists"] += 1
            items = [obj for obj in self.store.lease_items(namespace)
                     if selected is None or selected(obj)]
            if "as=Table" in environ.get("HTTP_ACCEPT", ""):
                return _json(start_response, 200, leases.table(
                    items, resource_version=self.store.rv,
                    include=query.get("includeObject", "Metadata")))
            return _json(start_response, 200, leases.as_list(items, self.store.rv))
        if namespace is None or (name is None and method != "POST"):
            raise ApiError(405, "the server does not allow this method on the requested "
                                "resource", details={})
        if method == "GET":
            self._authorize(user, "get", namespace, name, **scope)
            obj, raw = self.store.lease_get(namespace, name or "")
            if "as=Table" in environ.get("HTTP_ACCEPT", ""):
                return _json(start_response, 200, leases.table(
                    [obj], resource_version=int(obj["metadata"]["resourceVersion"]),
                    include=query.get("includeObject", "Metadata")))
            return _raw(start_response, 200, raw)
        if method == "POST" and name is None:
            # RBAC cannot narrow create by resourceNames: the name is not in the URL.
            self._authorize(user, "create", namespace, **scope)
            obj = leases.parse_body(_read_body(environ), namespace)
            leases.validate(obj)
            self.counts["lease_writes"] += 1
            _, raw = self.store.lease_create(namespace, obj)
            return _raw(start_response, 201, raw)
        assert name is not None
        if method == "PUT":
            self._authorize(user, "update", namespace, name, **scope)
            obj = leases.parse_body(_read_body(environ), namespace)
            body_name = obj["metadata"].get("name")
            if body_name != name:
                raise bad_request(f"the name of the object ({body_name}) does not match the "
                                  f"name on the URL ({name})")
            leases.validate(obj)
            self.counts["lease_writes"] += 1
            _, raw = self.store.lease_update(namespace, name, obj)
            return _raw(start_response, 200, raw)
        if method == "PATCH":
            self._authorize(user, "patch", namespace, name, **scope)
            patch = orjson.loads(_read_body(environ) or b"{}")
            current, _ = self.store.lease_get(namespace, name)
            merged = _merge_patch(orjson.loads(orjson.dumps(current)), patch)
            leases.validate(merged)
            _, raw = self.store.lease_update(namespace, name, merged)
            return _raw(start_response, 200, raw)
        if method == "DELETE":
            self._authorize(user, "delete", namespace, name, **scope)
            old = self.store.lease_delete(namespace, name, _delete_preconditions(environ))
            return _json(start_response, 200, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": LEASE_GROUP, "kind": leases.RESOURCE,
                            "uid": old["metadata"]["uid"]}})
        raise ApiError(405, "the server does not allow this method on the requested resource",
                       details={})

    def _list(self, start_response: StartResponse, namespace: str | None,
              query: dict[str, str], as_table: bool) -> Iterable[bytes]:
        if query.get("resourceVersionMatch") and not query.get("resourceVersion"):
            raise _invalid_options("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                   "unless resourceVersion is provided")
        pred = combine(parse_label_selector(query.get("labelSelector")),
                       parse_field_selector(query.get("fieldSelector")))
        self._check_not_too_large(query)
        self.counts["lists"] += 1
        limit = _int_param(query, "limit", 0)
        start_after: tuple[str, str] | None = None
        list_rv = self.store.rv
        if query.get("continue"):
            list_rv, start_after = _decode_continue(query["continue"])
            if list_rv < self.store.compacted:
                # etcd3 storage: the first page's revision is compacted away (a 410 with a
                # token that continues inconsistently, from the current revision).
                return _json(start_response, 410, {
                    **status_body(410, INCONSISTENT_CONTINUE, reason="Expired"),
                    "metadata": {"continue": _encode_continue(self.store.rv, start_after)}})
        elif (query.get("resourceVersionMatch") == "Exact"
              and _int_param(query, "resourceVersion", 0) < self.store.compacted):
            raise ApiError(410, "The resourceVersion for the provided list is too old.",
                           reason="Expired")
        items: list[dict[str, Any]] = []
        last = ("", "")
        cont = None
        remaining = None
        it = self.store.iter_objects(namespace, start_after)
        for ns, nm, obj, _ in it:
            if pred is not None and not pred(obj):
                continue
            if start_after is not None and int(obj["metadata"]["resourceVersion"]) > list_rv:
                # A continued list reads etcd at the first page's revision: nothing newer.
                # (Approximation: an object changed or deleted since is left out, not shown
                # as it was.)
                continue
            if limit and len(items) == limit:
                cont = _encode_continue(list_rv, last)
                if pred is None:
                    remaining = 1 + sum(1 for _ in it)
                break
            items.append(obj)
            last = (ns, nm)
        if as_table:
            return _json(start_response, 200, tables.table(
                items, resource_version=str(list_rv),
                include=query.get("includeObject", "Metadata"), cont=cont, remaining=remaining))
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if cont:
            meta["continue"] = cont
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        return _json(start_response, 200, {"kind": "EventList", "apiVersion": "v1",
                                           "metadata": meta, "items": items})

    def _check_not_too_large(self, query: dict[str, str]) -> None:
        """list/get at a resourceVersion the store does not have yet: 504 "Too large resource
        version" (the API concepts page, "Unavailable resource versions"; kubernetes#91073).
        The real server first waits up to ~3 s for it; the emulator answers at once."""
        text = query.get("resourceVersion", "")
        if text.isdigit() and int(text) > self.store.rv:
            raise ApiError(504, f"Too large resource version: {text}, current: {self.store.rv}",
                           reason="Timeout", details={
                               "causes": [{"reason": "ResourceVersionTooLarge",
                                           "message": "Too large resource version"}],
                               "retryAfterSeconds": 1})

    def _watch(self, environ: dict[str, Any], start_response: StartResponse,
               namespace: str | None, query: dict[str, str], as_table: bool) -> Iterable[bytes]:
        if query.get("resourceVersionMatch"):
            raise _invalid_options("resourceVersionMatch",
                                   "resourceVersionMatch is forbidden for watch")
        pred = combine(parse_label_selector(query.get("labelSelector")),
                       parse_field_selector(query.get("fieldSelector")))
        timeout = _int_param(query, "timeoutSeconds", -1)
        if timeout < 0:
            # apiserver: minRequestTimeout (1800 s) times a random factor in [1, 2).
            timeout_s = random.uniform(1800, 3600)
        else:
            timeout_s = float(timeout)
        rv_text = query.get("resourceVersion", "")
        try:
            rv = int(rv_text) if rv_text else 0
        except ValueError:
            raise bad_request(f"invalid resource version: {rv_text!r}") from None
        include = query.get("includeObject", "Metadata")
        # A watch from a version the store does not have yet waits silently for it
        # (kubernetes#135452): it gets only changes above that version.
        w = Watcher(namespace=namespace, predicate=pred, as_table=as_table, include=include,
                    deadline=time.monotonic() + timeout_s, after=rv)
        initial: list[bytes] = []
        # Everything from here to registration runs without yielding: no write can slip between.
        if rv == 0:
            # Watch cache off (as for Events): unset and "0" both start from a fresh etcd read,
            # replayed as synthetic ADDED events.
            for _, _, obj, raw in self.store.iter_objects(namespace):
                if pred is None or pred(obj):
                    initial.append(
                        _table_line("ADDED", obj, include) if as_table
                        else b'{"type":"ADDED","object":' + raw + b"}\n")
        else:
            changes = self.store.changes_after(rv)
            if changes is None:
                initial.append(orjson.dumps({"type": "ERROR", "object": EXPIRED_STATUS}) + b"\n")
                w.closed = True
            else:
                for change in changes:
                    if w.wants(change.obj):
                        initial.append(_table_line(change.type, change.obj, include)
                                       if as_table else change.line())
        self.counts["watches"] += 1
        if not w.closed:
            self.hub.watchers.add(w)
        write = start_response("200 OK", [("Content-Type", "application/json"),
                                          ("Cache-Control", "no-cache, private")])
        write(b"")  # headers now: clients wait for them before reading the stream
        return self.hub.stream(w, initial, environ.get("kubeapi.socket"))

    # -------------------------------------------------------------- control
    def _control(self, environ: dict[str, Any], start_response: StartResponse,
                 path: str) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        action = path[len("/_emulator/"):].strip("/")
        if action == "stats" and method == "GET":
            return _json(start_response, 200, self.stats())
        if action == "healthz":
            return _json(start_response, 200, {"ok": True})
        if action == "timings" and method == "GET":
            if self.timings is None:
                raise bad_request("timings are off: start the emulator with --record-timings")
            return _json(start_response, 200, {"events": self.timings.take()})
        body = _read_body(environ)
        if action == "fault" and method == "POST":
            spec = orjson.loads(body or b"{}")
            return _json(start_response, 200, self._fault(spec))
        if action == "tokens" and method == "POST":
            spec = orjson.loads(body)
            self.store.add_token(str(spec["token"]), str(spec["user"]))
            log.info("registered a token for user %s", spec["user"])
            return _json(start_response, 200, {"user": spec["user"]})
        if action == "apf" and method == "GET":
            return _json(start_response, 200, self.apf.stats())
        if action == "apf" and method == "POST":
            spec = orjson.loads(body or b"{}")
            try:
                result = self.apf.configure(
                    str(spec["user"]), rate=spec.get("rate"), burst=spec.get("burst"),
                    retry_after=spec.get("retry_after"))
            except (KeyError, TypeError, ValueError) as err:
                raise bad_request(f"bad APF limit {spec!r}: {err}") from None
            log.info("APF: %s", result)
            return _json(start_response, 200, result)
        if action == "rbac" and method == "PUT":
            try:
                self.authz.replace(body.decode())
            except (ValueError, AttributeError) as err:
                raise bad_request(f"bad RBAC YAML: {err}") from None
            return _json(start_response, 200, {"roles": len(self.authz.roles),
                                               "bindings": len(self.authz.bindings)})
        raise ApiError(404, f"no control action {action!r} for {method}")

    def _fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = str(spec.get("kind"))
        if kind == "429":
            self.fail_next = int(spec.get("count", 1))
            self.retry_after = int(spec.get("retry_after", 1))
            log.info("fault: the next %d requests get 429 (Retry-After %d)",
                     self.fail_next, self.retry_after)
            return {"kind": kind, "count": self.fail_next}
        if kind == "stall":
            return {"kind": kind, "watches": self.hub.stall_all()}
        if kind == "drop_watches":
            return {"kind": kind, "watches": self.hub.drop_all() + self.jobs.hub.drop_all()}
        if kind == "compact":
            return {"kind": kind, "resourceVersion": str(self.store.compact())}
        if kind == "snapshot":
            # An etcd backup: "restore" brings the store back to it (resourceVersion included),
            # as restoring etcd from a backup does; open watches are dropped, as a restarted
            # kube-apiserver drops them.
            self._snapshot = self.store.snapshot()
            return {"kind": kind, "resourceVersion": str(self.store.rv)}
        if kind == "restore":
            if self._snapshot is None:
                raise bad_request("no snapshot to restore: POST {\"kind\": \"snapshot\"} first")
            self.store.restore(self._snapshot)
            return {"kind": kind, "resourceVersion": str(self.store.rv),
                    "watches": self.hub.drop_all()}
        raise bad_request(f"unknown fault kind {kind!r}")

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


def _table_line(kind: str, obj: dict[str, Any], include: str) -> bytes:
    from .watch import table_line

    return table_line(kind, obj, include)


class _Handler(WSGIHandler):
    MessageClass = wire.Headers

    def _write_with_headers(self, data: bytes) -> None:
        # pywsgi's own sends the headers and the first chunk in two writes
        self.headers_sent = True
        self.finalize_headers()
        self._sendall(wire.headers_and_body(self.status, self.response_headers, data,
                                            chunked=bool(self.response_use_chunked)))

    def get_environ(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_environ()
        env["kubeapi.socket"] = self.socket
        env["kubeapi.arrived"] = time.time()  # request line and headers parsed
        return env


class _Server(WSGIServer):
    tls_context: ssl.SSLContext | None = None

    def handle(self, sock: socket.socket, address: Any) -> None:
        # Watch lines are small writes: without NODELAY, Nagle + delayed ACK add ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_context is not None:
            # One port, both protocols: a TLS ClientHello starts with byte 0x16.
            try:
                first = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                return
            if first == b"\x16":
                try:
                    sock = self.tls_context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as err:
                    log.debug("TLS handshake failed: %s", err)
                    sock.close()
                    return
        super().handle(sock, address)


def _json(start_response: StartResponse, code: int, body: Any) -> list[bytes]:
    return _raw(start_response, code, orjson.dumps(body))


_STATUS_TEXT = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
                403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
                422: "Unprocessable Entity", 500: "Internal Server Error",
                504: "Gateway Timeout"}


def _raw(start_response: StartResponse, code: int, body: bytes) -> list[bytes]:
    start_response(f"{code} {_STATUS_TEXT.get(code, 'Unknown')}",
                   [*_JSON, ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ: dict[str, Any]) -> bytes:
    length_text = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length_text:
        length = int(length_text)
        if length > MAX_BODY:
            raise ApiError(413, f"Request entity too large: limit is {MAX_BODY}")
        return bytes(stream.read(length))
    data = bytes(stream.read(MAX_BODY + 1))
    if len(data) > MAX_BODY:
        raise ApiError(413, f"Request entity too large: limit is {MAX_BODY}")
    return data


def _object_name(environ: dict[str, Any]) -> str:
    """The name of the object a create or update carries (read, then put back)."""
    if environ.get("REQUEST_METHOD") not in ("POST", "PUT"):
        return ""
    body = _read_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    try:
        meta = orjson.loads(body).get("metadata") or {}
        return str(meta.get("name") or "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""


def _drain(environ: dict[str, Any]) -> None:
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text and int(length_text) <= MAX_BODY:
        environ["wsgi.input"].read(int(length_text))


def _delete_preconditions(environ: dict[str, Any]) -> dict[str, Any] | None:
    """``preconditions`` (uid, resourceVersion) of a DELETE's DeleteOptions body, if any."""
    body = _read_body(environ)
    if not body.strip():
        return None
    try:
        options = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise bad_request(f"couldn't get version/kind; json parse error: {err}") from None
    if not isinstance(options, dict):
        raise bad_request("couldn't get version/kind; json parse error: not an object")
    preconditions = options.get("preconditions")
    return preconditions if isinstance(preconditions, dict) else None


def _read_object(environ: dict[str, Any], namespace: str) -> dict[str, Any]:
    body = _read_body(environ)
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise bad_request(f"couldn't get version/kind; json parse error: {err}") from None
    if not isinstance(obj, dict):
        raise bad_request("couldn't get version/kind; json parse error: not an object")
    kind = obj.get("kind")
    if kind not in (None, "", "Event") or obj.get("apiVersion") not in (None, "", "v1"):
        raise bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not "
                          f"match the expected API version (v1)"
                          if kind == "Event" else
                          f"Event in version \"v1\" cannot be handled as a {kind}")
    meta = obj.get("metadata")
    if meta is None:
        obj["metadata"] = meta = {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise bad_request("the namespace of the provided object does not match the namespace "
                          "sent on the request")
    return obj


def _field_validation(obj: dict[str, Any], mode: str) -> None:
    """``fieldValidation=Strict`` (what kubectl sends): unknown top-level fields are a 400."""
    if mode != "Strict":
        return
    unknown = sorted(set(obj) - discovery.EVENT_FIELDS)
    if unknown:
        detail = ", ".join(f'unknown field "{u}"' for u in unknown)
        raise bad_request(f'Event in version "v1" cannot be handled as a Event: '
                          f"strict decoding error: {detail}")


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (good enough for strategic merge patches of Events)."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge_patch(target.get(key), value)
    return target


def _int_param(query: dict[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"unable to parse {key}: strconv.ParseInt: parsing {text!r}: "
                          "invalid syntax") from None


def _invalid_options(field_name: str, detail: str) -> ApiError:
    return ApiError(
        422,
        f'ListOptions.meta.k8s.io "" is invalid: {field_name}: Forbidden: {detail}',
        details={"group": "meta.k8s.io", "kind": "ListOptions",
                 "causes": [{"reason": "FieldValueForbidden",
                             "message": f"Forbidden: {detail}", "field": field_name}]},
    )


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{key[0]}/{key[1]}\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ns, name = data["start"].rstrip("\x00").split("/", 1)
        return int(data["rv"]), (ns, name)
    except (ValueError, KeyError, binascii.Error, orjson.JSONDecodeError):
        raise bad_request("continue key is not valid: invalid continue token") from None


__all__ = ["ADMIN_USER", "Emulator", "Options"]
