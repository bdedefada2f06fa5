"""batch/v1 Jobs: stored, listed, watched and printed as kube-apiserver does; no controller.

Tests drive a Job through its life by writing its ``status`` subresource the way the Job
controller does (``startTime``, ``active``, ``failed``, ``succeeded``, ``conditions``,
``completionTime``); nothing here runs a pod. Writes share the store's one resourceVersion
counter; Jobs keep a watch history of their own that follows the store's compaction (a watch
from a compacted version gets the 410 ERROR line), and are not written to the state file (an
emulator restart forgets them). As on a real server, an update of the main resource keeps the
stored status and an update of ``/status`` keeps everything else. kubectl's Table:
jobs_table.py; the HTTP side: jobs_http.py.
"""

from __future__ import annotations

import bisect
import re
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from .objects import Change, decode_body, now_rfc3339, parse_rfc3339
from .status import ApiError, already_exists, bad_request, conflict, not_found
from .store import Store

GROUP = "batch"
API_VERSION = "batch/v1"
RESOURCE = "jobs"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE = "bcdfghjklmnpqrstvwxz2456789"
_STATUS_INTS = ("active", "failed", "succeeded", "ready", "terminating")

API_RESOURCES = [
    {"name": "jobs", "singularName": "job", "namespaced": True, "kind": "Job",
     "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
               "watch"], "categories": ["all"], "storageVersionHash": "mudhfqk/qZY="},
    {"name": "jobs/status", "singularName": "", "namespaced": True, "kind": "Job",
     "verbs": ["get", "patch", "update"]},
]
GROUP_VERSION = {"groupVersion": API_VERSION, "version": "v1"}
API_GROUP = {"name": GROUP, "versions": [GROUP_VERSION], "preferredVersion": GROUP_VERSION}

def serialize(obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"kind": "Job", "apiVersion": API_VERSION, **obj})


def parse_body(body: bytes, namespace: str) -> dict[str, Any]:
    """The Job of a request body (400 for what the decoder refuses)."""
    obj = decode_body(body, namespace, kind="Job", api_version=API_VERSION)
    for key in ("spec", "status"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            raise bad_request(f'Job in version "v1" cannot be handled as a Job: {key} must be '
                              "an object")
    status = obj.get("status") or {}
    for key in _STATUS_INTS:
        if status.get(key) is not None and not isinstance(status[key], int):
            raise bad_request(f'Job in version "v1" cannot be handled as a Job: json: cannot '
                              f"unmarshal {type(status[key]).__name__} into Go struct field "
                              f"JobStatus.status.{key} of type int32")
    return obj


def _normalize_times(status: dict[str, Any]) -> None:
    """metav1.Time is stored and served as RFC 3339 in UTC with whole seconds ("...Z"),
    whatever offset or fraction the client wrote; an unparsable one is a 400."""
    stamps = [(status, key) for key in ("startTime", "completionTime")]
    stamps += [(c, key) for c in status.get("conditions") or () if isinstance(c, dict)
               for key in ("lastProbeTime", "lastTransitionTime")]
    for holder, key in stamps:
        value = holder.get(key)
        if value is None:
            continue
        try:
            holder[key] = now_rfc3339(parse_rfc3339(str(value)))
        except ValueError:
            raise bad_request(f'Job in version "v1" cannot be handled as a Job: parsing time '
                              f'"{value}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None


def validate(obj: dict[str, Any]) -> None:
    """The parts of pkg/apis/batch/validation a test can trip: name, template, counters."""
    meta = obj["metadata"]
    name = meta.get("name") or meta.get("generateName") or ""
    causes: list[tuple[str, str, str]] = []
    if not meta.get("name") and not meta.get("generateName"):
        causes.append(("metadata.name", "FieldValueRequired",
                       "Required value: name or generateName is required"))
    elif meta.get("name") and (len(meta["name"]) > 63 or not _DNS_SUBDOMAIN.match(meta["name"])):
        causes.append(("metadata.name", "FieldValueInvalid",
                       f'Invalid value: "{meta["name"]}": a lowercase RFC 1123 label must '
                       "consist of lower case alphanumeric characters or '-', and must start "
                       "and end with an alphanumeric character"))
    template = (obj.get("spec") or {}).get("template")
    if not isinstance(template, dict) or not (template.get("spec") or {}).get("containers"):
        causes.append(("spec.template.spec.containers", "FieldValueRequired",
                       "Required value"))
    _normalize_times(obj.get("status") or {})
    for key in _STATUS_INTS:
        value = (obj.get("status") or {}).get(key)
        if isinstance(value, int) and value < 0:
            causes.append((f"status.{key}", "FieldValueInvalid",
                           f"Invalid value: {value}: must be greater than or equal to 0"))
    if causes:
        parts = [f"{f}: {t}" for f, _, t in causes]
        joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        raise ApiError(422, f'Job.batch "{name}" is invalid: {joined}', details={
            "name": name, "group": GROUP, "kind": "Job",
            "causes": [{"reason": r, "message": t, "field": f} for f, r, t in causes]})


class JobStore:
    """Jobs by namespace and name, with a watch history; revisions from the shared store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.objects: dict[str, dict[str, tuple[dict[str, Any], bytes]]] = {}
        self.history: list[Change] = []
        self._rvs: list[int] = []
        #: The object each MODIFIED change replaced, by resourceVersion: a watch with a
        #: selector sees ADDED when a Job starts matching it and DELETED when it stops.
        self.previous: dict[int, dict[str, Any]] = {}
        self.listeners: list[Any] = []

    def get(self, namespace: str, name: str) -> tuple[dict[str, Any], bytes]:
        try:
            return self.objects[namespace][name]
        except KeyError:
            raise not_found(name, RESOURCE, GROUP) from None

    def items(self, namespace: str | None) -> Iterator[dict[str, Any]]:
        namespaces = [namespace] if namespace is not None else sorted(self.objects)
        for ns in namespaces:
            bucket = self.objects.get(ns) or {}
            for name in sorted(bucket):
                yield bucket[name][0]

    def changes_after(self, rv: int) -> list[Change] | None:
        """Changes above ``rv``; None when it is compacted away (the store's compaction)."""
        compacted = self.store.compacted
        if compacted:
            cut = bisect.bisect_right(self._rvs, compacted)
            for change in self.history[:cut]:
                self.previous.pop(change.rv, None)
            del self.history[:cut]
            del self._rvs[:cut]
        if rv < compacted:
            return None
        return self.history[bisect.bisect_right(self._rvs, rv):]

    def create(self, namespace: str, obj: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        meta = obj["metadata"]
        bucket = self.objects.setdefault(namespace, {})
        if not meta.get("name"):
            meta["name"] = meta["generateName"] + "".join(
                _GENERATE[b % len(_GENERATE)] for b in uuid.uuid4().bytes[:5])
        if meta["name"] in bucket:
            raise already_exists(meta["name"], RESOURCE, GROUP)
        uid = str(uuid.uuid4())
        meta.update(namespace=namespace, uid=uid, creationTimestamp=now_rfc3339(),
                    generation=1)
        meta.pop("managedFields", None)
        spec = obj.setdefault("spec", {})
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
        labels.setdefault("batch.kubernetes.io/controller-uid", uid)
        labels.setdefault("batch.kubernetes.io/job-name", meta["name"])
        obj["status"] = {}  # a create never sets the status
        return self._put(namespace, obj, "ADDED")

    def update(self, namespace: str, name: str, obj: dict[str, Any], *, subresource: str
               ) -> tuple[dict[str, Any], bytes]:
        old, _ = self.get(namespace, name)
        meta = obj.setdefault("metadata", {})
        given = meta.get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise conflict(name, RESOURCE, GROUP)
        if subresource == "status":  # only the status changes
            obj = {**old, "status": obj.get("status") or {}}
        else:  # everything but the status
            obj = {**obj, "status": old.get("status") or {}}
            obj["metadata"] = {**meta, "generation": old["metadata"].get("generation", 1)}
            if obj.get("spec") != old.get("spec"):
                obj["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        obj["metadata"] = {**obj["metadata"]}
        for key in ("uid", "creationTimestamp", "namespace", "name"):
            obj["metadata"][key] = old["metadata"][key]
        validate(obj)
        return self._put(namespace, obj, "MODIFIED", old)

    def delete(self, namespace: str, name: str) -> dict[str, Any]:
        old, _ = self.get(namespace, name)
        del self.objects[namespace][name]
        gone = {**old, "metadata": {**old["metadata"]}}
        self._record("DELETED", gone)
        return old

    def _put(self, namespace: str, obj: dict[str, Any], kind: str,
             old: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes]:
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        raw = self._record(kind, obj, old)
        self.objects.setdefault(namespace, {})[obj["metadata"]["name"]] = (obj, raw)
        return obj, raw

    def _record(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None
                ) -> bytes:
        self.store.rv += 1
        if old is not None:
            self.previous[self.store.rv] = old
        obj["metadata"]["resourceVersion"] = str(self.store.rv)
        # Jobs are not in the state file, but the revision they used is: after a restart the
        # counter never goes back below a version a client has seen.
        self.store._append(orjson.dumps({"rv": self.store.rv}) + b"\n")
        raw = serialize(obj)
        change = Change(self.store.rv, kind, obj, raw)
        self.history.append(change)
        self._rvs.append(self.store.rv)
        for listener in self.listeners:
            listener(change)
        return raw


def as_seen(change: Change, wants: Any, previous: dict[str, Any] | None) -> Change | None:
    """The change as a watch whose filter is ``wants`` sees it (etcd3 watcher's transform):
    an update that makes the Job match is ADDED, one that makes it stop matching is DELETED
    (carrying the old object), one that matched neither before nor after is not sent."""
    now = wants(change.obj)
    if change.type != "MODIFIED" or previous is None:
        return change if now else None
    before = wants(previous)
    if now and before:
        return change
    if now:
        return Change(change.rv, "ADDED", change.obj, change.raw)
    if before:
        gone = {**previous, "metadata": {**previous["metadata"],
                                         "resourceVersion": str(change.rv)}}
        return Change(change.rv, "DELETED", gone, serialize(gone))
    return None


def as_list(items: list[dict[str, Any]], resource_version: int,
            cont: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(resource_version)}
    if cont:
        meta["continue"] = cont
    return {"kind": "JobList", "apiVersion": API_VERSION, "metadata": meta, "items": items}
