"""coordination.k8s.io/v1 Leases over HTTP: get, list, watch, create, update, patch, delete.

Every verb is authorized as ``leases`` in ``coordination.k8s.io`` (``resourceNames`` narrow
get, update, patch and delete, never create: its name is not in the URL). The objects and
their checks are in leases.py, their watch window in lease_watch.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from . import leases
from .httputil import (
    StartResponse,
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
from .objects import LEASE_GROUP
from .rbac import User
from .selectors import parse_label_selector
from .status import ApiError, bad_request

if TYPE_CHECKING:
    from .server import Emulator


class LeasesAPI:
    """The Lease routes of one emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.store = emu.store
        self.lease_changes = emu.lease_changes
        self.counts = emu.counts
        self._authorize = emu.authorize

    def serve(self, environ: dict[str, Any], start_response: StartResponse, method: str,
                namespace: str | None, name: str | None, user: User) -> Iterable[bytes]:
        query = query_of(environ)
        scope = {"resource": leases.RESOURCE, "group": LEASE_GROUP}
        selected = parse_label_selector(query.get("labelSelector"))
        if watch_requested(query) and method == "GET":
            self._authorize(user, "watch", namespace, name, **scope)
            self.counts["lease_watches"] += 1
            timeout = int_param(query, "timeoutSeconds", -1)
            rv_text = query.get("resourceVersion", "")
            try:
                rv = int(rv_text) if rv_text else 0
            except ValueError:
                raise bad_request(f"invalid resource version: {rv_text!r}") from None
            body = self.lease_changes.open(
                self.store, namespace=namespace, predicate=selected, rv=rv,
                timeout_s=float(timeout) if timeout >= 0 else random.uniform(1800, 3600),
                sock=environ.get("kubeapi.socket"))
            start_stream(start_response)
            return body
        if method == "GET" and name is None:
            self._authorize(user, "list", namespace, **scope)
            self.counts["lease_lists"] += 1
            items = [obj for obj in self.store.lease_items(namespace)
                     if selected is None or selected(obj)]
            if wants_table(environ):
                return json_response(start_response, 200, leases.table(
                    items, resource_version=self.store.rv,
                    include=query.get("includeObject", "Metadata")))
            return json_response(start_response, 200, leases.as_list(items, self.store.rv))
        if namespace is None or (name is None and method != "POST"):
            raise ApiError(405, "the server does not allow this method on the requested "
                                "resource", details={})
        if method == "GET":
            self._authorize(user, "get", namespace, name, **scope)
            obj, raw = self.store.lease_get(namespace, name or "")
            if wants_table(environ):
                return json_response(start_response, 200, leases.table(
                    [obj], resource_version=int(obj["metadata"]["resourceVersion"]),
                    include=query.get("includeObject", "Metadata")))
            return raw_response(start_response, 200, raw)
        if method == "POST" and name is None:
            # RBAC cannot narrow create by resourceNames: the name is not in the URL.
            self._authorize(user, "create", namespace, **scope)
            obj = leases.parse_body(read_body(environ), namespace)
            leases.validate(obj)
            self.counts["lease_writes"] += 1
            _, raw = self.store.lease_create(namespace, obj)
            return raw_response(start_response, 201, raw)
        assert name is not None
        if method == "PUT":
            self._authorize(user, "update", namespace, name, **scope)
            obj = leases.parse_body(read_body(environ), namespace)
            body_name = obj["metadata"].get("name")
            if body_name != name:
                raise bad_request(f"the name of the object ({body_name}) does not match the "
                                  f"name on the URL ({name})")
            leases.validate(obj)
            self.counts["lease_writes"] += 1
            _, raw = self.store.lease_update(namespace, name, obj)
            return raw_response(start_response, 200, raw)
        if method == "PATCH":
            self._authorize(user, "patch", namespace, name, **scope)
            patch = orjson.loads(read_body(environ) or b"{}")
            current, _ = self.store.lease_get(namespace, name)
            merged = merge_patch(orjson.loads(orjson.dumps(current)), patch)
            leases.validate(merged)
            _, raw = self.store.lease_update(namespace, name, merged)
            return raw_response(start_response, 200, raw)
        if method == "DELETE":
            self._authorize(user, "delete", namespace, name, **scope)
            old = self.store.lease_delete(namespace, name, delete_preconditions(environ))
            return json_response(start_response, 200, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": LEASE_GROUP, "kind": leases.RESOURCE,
                            "uid": old["metadata"]["uid"]}})
        raise ApiError(405, "the server does not allow this method on the requested resource",
                       details={})
