"""Server-side ``Table`` rendering of Events, so ``kubectl get events`` prints readable columns.

kubectl asks with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``; the real server
answers with the columns of pkg/printers/internalversion (always generated "wide": kubectl hides
priority-1 columns unless ``-o wide``).
"""

from __future__ import annotations

import time
from typing import Any

from .objects import parse_rfc3339

#: The columns every kind's Table starts or ends with.
NAME_COLUMN: dict[str, Any] = {"name": "Name", "type": "string", "format": "name", "priority": 0,
                               "description": "Name must be unique within a namespace."}
AGE_COLUMN: dict[str, Any] = {
    "name": "Age", "type": "string", "format": "", "priority": 0,
    "description": "CreationTimestamp is a timestamp representing the server time when this "
                   "object was created."}

COLUMNS: list[dict[str, Any]] = [
    {"name": "Last Seen", "type": "string", "format": "", "priority": 0,
     "description": "The time at which the most recent occurrence of this event was recorded."},
    {"name": "Type", "type": "string", "format": "", "priority": 0,
     "description": "Type of this event (Normal, Warning), new types could be added in the future"},
    {"name": "Reason", "type": "string", "format": "", "priority": 0,
     "description": "This should be a short, machine understandable string that gives the reason "
                    "for the transition into the object's current status."},
    {"name": "Object", "type": "string", "format": "", "priority": 0,
     "description": "The object that this event is about."},
    {"name": "Subobject", "type": "string", "format": "", "priority": 1,
     "description": "The field of the object this event is about."},
    {"name": "Source", "type": "string", "format": "", "priority": 1,
     "description": "The component reporting this event."},
    {"name": "Message", "type": "string", "format": "", "priority": 0,
     "description": "A human-readable description of the status of this operation."},
    {"name": "First Seen", "type": "string", "format": "", "priority": 1,
     "description": "The time at which the event was first recorded."},
    {"name": "Count", "type": "integer", "format": "", "priority": 1,
     "description": "The number of times this event has occurred."},
    {**NAME_COLUMN, "priority": 1},
]


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def _since(stamp: str | None, now: float) -> str:
    if not stamp:
        return "<unknown>"
    try:
        return human_duration(now - parse_rfc3339(stamp))
    except ValueError:
        return "<unknown>"


def row(obj: dict[str, Any], include: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    involved = obj.get("involvedObject") or {}
    first = _since(obj.get("firstTimestamp"), now) if obj.get("firstTimestamp") else _since(
        obj.get("eventTime"), now)
    last = _since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if series:
        last = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif not count:
        count = 1
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or {}
    if source.get("component"):
        src = source["component"] + (f", {source['host']}" if source.get("host") else "")
    else:
        src = obj.get("reportingComponent") or ""
        if obj.get("reportingInstance"):
            src += f", {obj['reportingInstance']}"
    cells = [last, obj.get("type") or "", obj.get("reason") or "", target,
             involved.get("fieldPath") or "", src, str(obj.get("message") or "").strip(),
             first, count, obj["metadata"]["name"]]
    return with_object({"cells": cells}, obj, include, kind="Event", api_version="v1")


def with_object(row: dict[str, Any], obj: dict[str, Any], include: str, *, kind: str,
                api_version: str) -> dict[str, Any]:
    """A row's ``object`` as ``includeObject`` asks: the object, its metadata only
    (``Metadata``, the default) or nothing (``None``)."""
    if include == "Object":
        row["object"] = {"kind": kind, "apiVersion": api_version, **obj}
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj["metadata"]}
    return row


def render(rows: list[dict[str, Any]], *, columns: list[dict[str, Any]],
           resource_version: str, cont: str | None = None,
           remaining: int | None = None) -> dict[str, Any]:
    """A meta.k8s.io/v1 ``Table`` of any kind: its columns and rows, list metadata."""
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if cont:
        meta["continue"] = cont
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": columns, "rows": rows}


def table(objs: list[dict[str, Any]], *, resource_version: str, include: str,
          cont: str | None = None, remaining: int | None = None) -> dict[str, Any]:
    now = time.time()
    return render([row(o, include, now) for o in objs], columns=COLUMNS,
                  resource_version=resource_version, cont=cont, remaining=remaining)
