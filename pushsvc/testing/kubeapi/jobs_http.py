"""The HTTP side of batch/v1 Jobs: routes, RBAC, list/watch framing and the request log.

Every Job request is authorized as ``jobs`` (or ``jobs/status``) in API group ``batch``, so a
403 names exactly the verb, resource and namespace, as kube-apiserver's does. The request log
(``/_emulator/stats`` → ``job_requests``) keeps the verb, namespace, user and selectors of the
last requests: tests check that a watcher only ever asked for labelled Jobs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import gevent
import orjson

from . import jobs, jobs_table, protobuf
from .httputil import (
    StartResponse,
    check_not_too_large,
    delete_preconditions,
    int_param,
    json_response,
    merge_patch,
    query_of,
    raw_response,
    read_body,
    start_stream,
    wants_table,
    watch_requested,
)
from .objects import Change
from .rbac import User
from .selectors import combine, parse_label_selector
from .status import EXPIRED_STATUS, ApiError, bad_request, forbidden
from .store import Store
from .watch import Watcher, WatchHub

_FIELDS = {"metadata.name": ("metadata", "name"),
           "metadata.namespace": ("metadata", "namespace")}


def _field_selector(text: str | None) -> Callable[[dict[str, Any]], bool] | None:
    """Job field selectors: metadata.name / metadata.namespace (others are a 400)."""
    if not text:
        return None
    terms: list[tuple[tuple[str, str], bool, str]] = []
    for term in (t.strip() for t in text.split(",")):
        if not term:
            continue
        negate = "!=" in term
        key, _, value = term.partition("!=" if negate else "=")
        key, value = key.strip(), value.lstrip("=").strip()
        if key not in _FIELDS:
            raise bad_request(f'field label not supported: {key}')
        terms.append((_FIELDS[key], negate, value))

    def match(obj: dict[str, Any]) -> bool:
        return all((str(obj[a].get(b) or "") == v) != neg for (a, b), neg, v in terms)
    return match


def _forbidden(user: User, verb: str, namespace: str | None, name: str | None,
               resource: str) -> ApiError:
    """kube-apiserver's 403: a subresource is named in the sentence ("jobs/status"), not in
    the object's qualified resource ("jobs.batch")."""
    err = forbidden(user.name, verb, namespace, name, jobs.RESOURCE, jobs.GROUP)
    if resource != jobs.RESOURCE:
        err.message = err.message.replace(f'resource "{jobs.RESOURCE}"', f'resource "{resource}"')
        err.args = (err.message,)
    return err


class JobHub(WatchHub):
    """Open Job watches; lines rendered as Jobs (or Job tables for kubectl)."""

    def __init__(self, store: jobs.JobStore) -> None:
        super().__init__()
        self.store = store

    def __call__(self, change: Change) -> None:
        previous = self.store.previous.get(change.rv)
        for w in self.watchers:
            if w.closed or w.stalled or change.rv <= w.after:
                continue
            seen = jobs.as_seen(change, w.wants, previous)
            if seen is None:
                continue
            w.pending.append(jobs_table.table_line(seen.type, seen.obj, w.include)
                             if w.as_table else seen.line())
            w.wake.set()


class JobsAPI:
    """Jobs of one emulator: the store, the watches and the request log."""

    def __init__(self, store: Store) -> None:
        self.store = jobs.JobStore(store)
        self.hub = JobHub(self.store)
        self.store.listeners.append(self.hub)
        self.requests: deque[dict[str, Any]] = deque(maxlen=1000)

    def serve(self, emu: Any, environ: dict[str, Any], start_response: StartResponse,
              rest: list[str], user: User) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        watch_path = bool(rest) and rest[0] == "watch"
        rest = rest[1:] if watch_path else rest
        namespace: str | None = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or rest[0] != jobs.RESOURCE or len(rest) > 3 or (
                len(rest) == 3 and rest[2] != "status"):
            raise ApiError(404, "the server could not find the requested resource", details={})
        name = rest[1] if len(rest) >= 2 else None
        resource = "jobs/status" if len(rest) == 3 else jobs.RESOURCE
        query = query_of(environ)
        watching = watch_path or watch_requested(query)
        verb = {"GET": "watch" if watching else ("get" if name else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method, method.lower())
        self.requests.append({"verb": verb, "namespace": namespace, "name": name,
                              "resource": resource, "user": user.name,
                              "labelSelector": query.get("labelSelector", ""),
                              "fieldSelector": query.get("fieldSelector", "")})
        if not emu.authz.allowed(user, verb, namespace, resource, jobs.GROUP, name):
            raise _forbidden(user, verb, namespace, name, resource)
        as_table = wants_table(environ)
        include = query.get("includeObject", "Metadata")
        if method == "GET" and watching:
            if name is not None:
                query["fieldSelector"] = ",".join(
                    s for s in (query.get("fieldSelector"), f"metadata.name={name}") if s)
            return self._watch(start_response, namespace, query, as_table, include, environ)
        if method == "GET" and name is None:
            pred = combine(parse_label_selector(query.get("labelSelector")),
                           _field_selector(query.get("fieldSelector")))
            check_not_too_large(self.store.store, query)
            items = [o for o in self.store.items(namespace) if pred is None or pred(o)]
            limit = int_param(query, "limit", 0)
            start = int(query["continue"]) if query.get("continue", "").isdigit() else 0
            page = items[start:start + limit] if limit else items[start:]
            cont = str(start + limit) if limit and start + limit < len(items) else None
            rv = str(self.store.store.rv)
            if as_table:
                return json_response(start_response, 200, jobs_table.table(
                    page, resource_version=rv, include=include))
            return json_response(start_response, 200, jobs.as_list(page, int(rv), cont))
        if namespace is None:
            raise ApiError(405, "the server does not allow this method on the requested "
                                "resource", details={})
        if method == "GET":
            obj, raw = self.store.get(namespace, name or "")
            if as_table:
                return json_response(start_response, 200, jobs_table.table(
                    [obj], resource_version=obj["metadata"]["resourceVersion"], include=include))
            return raw_response(start_response, 200, raw)
        if method == "POST" and name is None:
            obj = jobs.parse_body(self._body(environ, read_body(environ)), namespace)
            jobs.validate(obj)
            if query.get("dryRun"):
                return json_response(start_response, 201,
                                     {"kind": "Job", "apiVersion": jobs.API_VERSION, **obj})
            _, raw = self.store.create(namespace, obj)
            gevent.sleep(0)  # let open watches write the line first, as for Events
            return raw_response(start_response, 201, raw)
        if name is None:
            raise ApiError(405, "the server does not allow this method on the requested "
                                "resource", details={})
        sub = "status" if resource == "jobs/status" else ""
        if method == "PUT":
            obj = jobs.parse_body(self._body(environ, read_body(environ)), namespace)
            if obj["metadata"].get("name") != name:
                raise bad_request(f"the name of the object ({obj['metadata'].get('name')}) "
                                  f"does not match the name on the URL ({name})")
            _, raw = self.store.update(namespace, name, obj, subresource=sub)
            return raw_response(start_response, 200, raw)
        if method == "PATCH":
            try:
                patch = orjson.loads(read_body(environ) or b"{}")
            except orjson.JSONDecodeError as err:
                raise bad_request(f"couldn't get version/kind; json parse error: {err}") from None
            current, _ = self.store.get(namespace, name)
            merged = merge_patch(orjson.loads(orjson.dumps(current)), patch)
            merged.get("metadata", {}).pop("resourceVersion", None)
            _, raw = self.store.update(namespace, name, merged, subresource=sub)
            return raw_response(start_response, 200, raw)
        if method == "DELETE" and not sub:
            delete_preconditions(environ)
            old = self.store.delete(namespace, name)
            return json_response(start_response, 200, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": jobs.GROUP, "kind": jobs.RESOURCE,
                            "uid": old["metadata"]["uid"]}})
        raise ApiError(405, "the server does not allow this method on the requested resource",
                       details={})

    @staticmethod
    def _body(environ: dict[str, Any], body: bytes) -> bytes:
        """JSON as is; kubectl's protobuf Jobs decoded (protobuf.py)."""
        if environ.get("CONTENT_TYPE", "").startswith(protobuf.CONTENT_TYPE):
            return orjson.dumps(protobuf.decode_job(body))
        return body

    def _watch(self, start_response: StartResponse, namespace: str | None,
               query: dict[str, str], as_table: bool, include: str,
               environ: dict[str, Any]) -> Iterable[bytes]:

        pred = combine(parse_label_selector(query.get("labelSelector")),
                       _field_selector(query.get("fieldSelector")))
        timeout = int_param(query, "timeoutSeconds", -1)
        timeout_s = float(timeout) if timeout >= 0 else 1800.0
        rv_text = query.get("resourceVersion", "")
        if rv_text and not rv_text.isdigit():
            raise bad_request(f"invalid resource version: {rv_text!r}")
        rv = int(rv_text or 0)
        w = Watcher(namespace=namespace, predicate=pred, as_table=as_table, include=include,
                    deadline=time.monotonic() + timeout_s, after=rv)
        initial: list[bytes] = []
        if rv == 0:
            for obj in self.store.items(namespace):
                if pred is None or pred(obj):
                    initial.append(jobs_table.table_line("ADDED", obj, include) if as_table else
                                   b'{"type":"ADDED","object":' + jobs.serialize(obj) + b"}\n")
        else:
            changes = self.store.changes_after(rv)
            if changes is None:
                initial.append(orjson.dumps({"type": "ERROR", "object": EXPIRED_STATUS}) + b"\n")
                w.closed = True
            else:
                for change in changes:
                    seen = jobs.as_seen(change, w.wants, self.store.previous.get(change.rv))
                    if seen is not None:
                        initial.append(jobs_table.table_line(seen.type, seen.obj, include)
                                       if as_table else seen.line())
        if not w.closed:
            self.hub.watchers.add(w)
        start_stream(start_response)
        return self.hub.stream(w, initial, environ.get("kubeapi.socket"))
