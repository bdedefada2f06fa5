"""core/v1 Events over HTTP: get, list (paged, Tables), watch, create, update, patch, delete.

The Events the store keeps are served as kube-apiserver serves them with the watch cache off
(as it is for Events): a list or a watch from "0" or unset reads the store itself, a watch from
a version replays the store's history after it (410 Expired once compacted), ``continue``
tokens carry the first page's revision, and every verb is authorized as ``events`` in the core
group before anything is read.
"""

from __future__ import annotations

import base64
import binascii
import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import gevent
import orjson

from . import discovery
from . import table as tables
from .httputil import (
    StartResponse,
    check_not_too_large,
    delete_preconditions,
    drain,
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
from .objects import decode_body
from .rbac import User
from .selectors import combine, parse_field_selector, parse_label_selector
from .status import EXPIRED_STATUS, INCONSISTENT_CONTINUE, ApiError, bad_request, status_body
from .validation import validate_event
from .watch import Watcher, table_line

if TYPE_CHECKING:
    from .server import Emulator


class EventsAPI:
    """The Events routes of one emulator (its store, watch hub, counters and authorizer)."""

    def __init__(self, emu: Emulator) -> None:
        self.store = emu.store
        self.hub = emu.hub
        self.counts = emu.counts
        self.timings = emu.timings
        self._authorize = emu.authorize

    def serve(self, environ: dict[str, Any], start_response: StartResponse, method: str,
                namespace: str | None, name: str | None, user: User,
                watch_path: bool) -> Iterable[bytes]:
        query = query_of(environ)
        watching = watch_path or watch_requested(query)
        as_table = wants_table(environ)
        if method == "GET":
            if watching:
                if name is not None:
                    query["fieldSelector"] = ",".join(
                        s for s in (query.get("fieldSelector"), f"metadata.name={name}") if s)
                self._authorize(user, "watch", namespace)
                return self._watch(environ, start_response, namespace, query, as_table)
            if name is not None:
                self._authorize(user, "get", namespace, name)
                check_not_too_large(self.store, query)
                self.counts["gets"] += 1
                obj, raw = self.store.get(namespace or "", name)
                if as_table:
                    return json_response(start_response, 200, tables.table(
                        [obj], resource_version=obj["metadata"]["resourceVersion"],
                        include=query.get("includeObject", "Metadata")))
                return raw_response(start_response, 200, raw)
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
                return json_response(start_response, 201,
                                     {"kind": "Event", "apiVersion": "v1", **obj})
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
            return raw_response(start_response, 201, raw)
        if method == "PUT" and name is not None:
            self._authorize(user, "update", namespace, name)
            obj = _read_object(environ, namespace)
            body_name = (obj.get("metadata") or {}).get("name")
            if body_name != name:
                raise bad_request(f"the name of the object ({body_name}) does not match the "
                                  f"name on the URL ({name})")
            validate_event(obj, namespace)
            _, raw = self.store.update(namespace, name, obj)
            return raw_response(start_response, 200, raw)
        if method == "PATCH" and name is not None:
            self._authorize(user, "patch", namespace, name)
            patch = _read_object(environ, namespace)
            current, _ = self.store.get(namespace, name)
            merged = merge_patch(orjson.loads(orjson.dumps(current)), patch)
            validate_event(merged, namespace)
            _, raw = self.store.update(namespace, name, merged)
            return raw_response(start_response, 200, raw)
        if method == "DELETE" and name is not None:
            self._authorize(user, "delete", namespace, name)
            preconditions = delete_preconditions(environ)
            self.counts["deletes"] += 1
            _, raw = self.store.delete(namespace, name, preconditions)
            return raw_response(start_response, 200, raw)
        if method == "DELETE":
            self._authorize(user, "deletecollection", namespace)
            drain(environ)
            pred = combine(parse_label_selector(query.get("labelSelector")),
                           parse_field_selector(query.get("fieldSelector")))
            victims = [n for _, n, obj, _ in self.store.iter_objects(namespace)
                       if pred is None or pred(obj)]
            deleted = [self.store.delete(namespace, n)[0] for n in victims]
            self.counts["deletes"] += len(deleted)
            return json_response(start_response, 200, {
                "kind": "EventList", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.store.rv)}, "items": deleted})
        raise ApiError(405, "the server does not allow this method on the requested resource",
                       details={})


    def _list(self, start_response: StartResponse, namespace: str | None,
              query: dict[str, str], as_table: bool) -> Iterable[bytes]:
        if query.get("resourceVersionMatch") and not query.get("resourceVersion"):
            raise _invalid_options("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                   "unless resourceVersion is provided")
        pred = combine(parse_label_selector(query.get("labelSelector")),
                       parse_field_selector(query.get("fieldSelector")))
        check_not_too_large(self.store, query)
        self.counts["lists"] += 1
        limit = int_param(query, "limit", 0)
        start_after: tuple[str, str] | None = None
        list_rv = self.store.rv
        if query.get("continue"):
            list_rv, start_after = _decode_continue(query["continue"])
            if list_rv < self.store.compacted:
                # etcd3 storage: the first page's revision is compacted away (a 410 with a
                # token that continues inconsistently, from the current revision).
                return json_response(start_response, 410, {
                    **status_body(410, INCONSISTENT_CONTINUE, reason="Expired"),
                    "metadata": {"continue": _encode_continue(self.store.rv, start_after)}})
        elif (query.get("resourceVersionMatch") == "Exact"
              and int_param(query, "resourceVersion", 0) < self.store.compacted):
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
            return json_response(start_response, 200, tables.table(
                items, resource_version=str(list_rv),
                include=query.get("includeObject", "Metadata"), cont=cont, remaining=remaining))
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if cont:
            meta["continue"] = cont
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        return json_response(start_response, 200, {"kind": "EventList", "apiVersion": "v1",
                                           "metadata": meta, "items": items})

    def _watch(self, environ: dict[str, Any], start_response: StartResponse,
               namespace: str | None, query: dict[str, str], as_table: bool) -> Iterable[bytes]:
        if query.get("resourceVersionMatch"):
            raise _invalid_options("resourceVersionMatch",
                                   "resourceVersionMatch is forbidden for watch")
        pred = combine(parse_label_selector(query.get("labelSelector")),
                       parse_field_selector(query.get("fieldSelector")))
        timeout = int_param(query, "timeoutSeconds", -1)
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
                        table_line("ADDED", obj, include) if as_table
                        else b'{"type":"ADDED","object":' + raw + b"}\n")
        else:
            changes = self.store.changes_after(rv)
            if changes is None:
                initial.append(orjson.dumps({"type": "ERROR", "object": EXPIRED_STATUS}) + b"\n")
                w.closed = True
            else:
                for change in changes:
                    if w.wants(change.obj):
                        initial.append(table_line(change.type, change.obj, include)
                                       if as_table else change.line())
        self.counts["watches"] += 1
        if not w.closed:
            self.hub.watchers.add(w)
        start_stream(start_response)
        return self.hub.stream(w, initial, environ.get("kubeapi.socket"))


def _read_object(environ: dict[str, Any], namespace: str) -> dict[str, Any]:
    return decode_body(read_body(environ), namespace, kind="Event", api_version="v1")


def _field_validation(obj: dict[str, Any], mode: str) -> None:
    """``fieldValidation=Strict`` (what kubectl sends): unknown top-level fields are a 400."""
    if mode != "Strict":
        return
    unknown = sorted(set(obj) - discovery.EVENT_FIELDS)
    if unknown:
        detail = ", ".join(f'unknown field "{u}"' for u in unknown)
        raise bad_request(f'Event in version "v1" cannot be handled as a Event: '
                          f"strict decoding error: {detail}")



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

