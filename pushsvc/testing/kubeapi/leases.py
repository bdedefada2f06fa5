"""coordination.k8s.io/v1 Leases: what leader election needs, checked as kube-apiserver does.

Leader election (client-go's ``tools/leaderelection`` with a ``LeaseLock``) is get, then create
(409 AlreadyExists if another candidate won) or update carrying the resourceVersion it read
(409 Conflict if another candidate wrote in between). The emulator serves get, list, create,
update (PUT), merge patch and delete of Leases, their discovery documents and the ``Table``
kubectl prints (NAME, HOLDER, AGE); it does not watch them.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from .objects import LEASE_API_VERSION, LEASE_GROUP, decode_body, parse_rfc3339
from .status import ApiError, bad_request
from .table import AGE_COLUMN, NAME_COLUMN, human_duration, render, with_object

RESOURCE = "leases"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_INT_FIELDS = ("leaseDurationSeconds", "leaseTransitions")
_TIME_FIELDS = ("acquireTime", "renewTime")

API_RESOURCE = {
    "name": RESOURCE,
    "singularName": "lease",
    "namespaced": True,
    "kind": "Lease",
    "verbs": ["create", "delete", "get", "list", "patch", "update"],
    "storageVersionHash": "gqkMMb/YqFM=",
}
GROUP_VERSION = {"groupVersion": LEASE_API_VERSION, "version": "v1"}
API_GROUP = {"name": LEASE_GROUP, "versions": [GROUP_VERSION], "preferredVersion": GROUP_VERSION}

COLUMNS: list[dict[str, Any]] = [
    NAME_COLUMN,
    {"name": "Holder", "type": "string", "format": "", "priority": 0,
     "description": "The holder of the lease."},
    AGE_COLUMN,
]


def parse_body(body: bytes, namespace: str) -> dict[str, Any]:
    """The Lease of a create/update/patch body (400 for what the decoder refuses)."""
    obj = decode_body(body, namespace, kind="Lease", api_version=LEASE_API_VERSION)
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise bad_request('Lease in version "v1" cannot be handled as a Lease: spec must be '
                          "an object")
    for key in _INT_FIELDS:
        if key in spec and spec[key] is not None and not isinstance(spec[key], int):
            raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: '
                              f"json: cannot unmarshal {type(spec[key]).__name__} into Go "
                              f"struct field LeaseSpec.spec.{key} of type int32")
    for key in _TIME_FIELDS:
        if spec.get(key) is not None:
            try:
                datetime.fromisoformat(str(spec[key]).replace("Z", "+00:00"))
            except ValueError:
                raise bad_request(f'Lease in version "v1" cannot be handled as a Lease: '
                                  f'parsing time "{spec[key]}" as "2006-01-02T15:04:05.000000'
                                  f'Z07:00": cannot parse') from None
    return obj


def validate(obj: dict[str, Any]) -> None:
    """pkg/apis/coordination/validation: a DNS-subdomain name, positive duration, no negative
    transitions; 422 Invalid with the apiserver's causes."""
    meta = obj["metadata"]
    name = meta.get("name") or meta.get("generateName") or ""
    spec = obj.get("spec") or {}
    causes: list[tuple[str, str, str]] = []
    if not meta.get("name") and not meta.get("generateName"):
        causes.append(("metadata.name", "FieldValueRequired",
                       "Required value: name or generateName is required"))
    elif meta.get("name") and (len(meta["name"]) > 253 or not _DNS_SUBDOMAIN.match(meta["name"])):
        causes.append(("metadata.name", "FieldValueInvalid",
                       f'Invalid value: "{meta["name"]}": a lowercase RFC 1123 subdomain must '
                       "consist of lower case alphanumeric characters, '-' or '.', and must "
                       "start and end with an alphanumeric character"))
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(("spec.leaseDurationSeconds", "FieldValueInvalid",
                       f"Invalid value: {duration}: must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        causes.append(("spec.leaseTransitions", "FieldValueInvalid",
                       f"Invalid value: {transitions}: must be greater than or equal to 0"))
    if causes:
        parts = [f"{f}: {t}" for f, _, t in causes]
        joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        raise ApiError(422, f'Lease.{LEASE_GROUP} "{name}" is invalid: {joined}', details={
            "name": name, "group": LEASE_GROUP, "kind": "Lease",
            "causes": [{"reason": r, "message": t, "field": f} for f, r, t in causes]})


def as_list(items: list[dict[str, Any]], resource_version: int) -> dict[str, Any]:
    return {"kind": "LeaseList", "apiVersion": LEASE_API_VERSION,
            "metadata": {"resourceVersion": str(resource_version)}, "items": items}


def table(items: list[dict[str, Any]], *, resource_version: int, include: str) -> dict[str, Any]:
    now = time.time()
    rows = [with_object({"cells": [obj["metadata"]["name"],
                                   (obj.get("spec") or {}).get("holderIdentity") or "",
                                   human_duration(now - parse_rfc3339(
                                       obj["metadata"]["creationTimestamp"]))]},
                        obj, include, kind="Lease", api_version=LEASE_API_VERSION)
            for obj in items]
    return render(rows, columns=COLUMNS, resource_version=str(resource_version))
