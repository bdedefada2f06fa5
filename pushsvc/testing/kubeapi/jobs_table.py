"""kubectl's view of Jobs: the ``Table`` the real server prints (pkg/printers/internalversion
``printJob``): NAME, STATUS, COMPLETIONS, DURATION, AGE, and with ``-o wide`` CONTAINERS,
IMAGES, SELECTOR."""

from __future__ import annotations

import time
from typing import Any

import orjson

from .jobs import API_VERSION
from .objects import parse_rfc3339
from .table import AGE_COLUMN, NAME_COLUMN, human_duration, render, with_object

COLUMNS: list[dict[str, Any]] = [
    NAME_COLUMN,
    {"name": "Status", "type": "string", "format": "", "priority": 0,
     "description": "Status of the job."},
    {"name": "Completions", "type": "string", "format": "", "priority": 0,
     "description": "The desired number of successfully finished pods the job should be run "
                    "with."},
    {"name": "Duration", "type": "string", "format": "", "priority": 0,
     "description": "Time required to complete the job."},
    AGE_COLUMN,
    {"name": "Containers", "type": "string", "format": "", "priority": 1,
     "description": "Names of each container in the template."},
    {"name": "Images", "type": "string", "format": "", "priority": 1,
     "description": "Images referenced by each container in the template."},
    {"name": "Selector", "type": "string", "format": "", "priority": 1,
     "description": "A label query over pods that should match the pod count."},
]


def job_status(obj: dict[str, Any]) -> str:
    """kubectl's STATUS column (pkg/printers/internalversion, printJob)."""
    status = obj.get("status") or {}
    types = {c.get("type") for c in status.get("conditions") or ()
             if isinstance(c, dict) and c.get("status") == "True"}
    for condition in ("Failed", "Complete", "Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if condition in types:
            return condition
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return "Running"


def row(obj: dict[str, Any], include: str, now: float) -> dict[str, Any]:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    completions = spec.get("completions")
    done = status.get("succeeded") or 0
    shown = f"{done}/{completions}" if completions is not None else \
        f"{done}/1 of {spec.get('parallelism', 1)}"
    duration = ""
    if status.get("startTime"):
        end = parse_rfc3339(status["completionTime"]) if status.get("completionTime") else now
        duration = human_duration(end - parse_rfc3339(status["startTime"]))
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = ",".join(f"{k}={v}" for k, v in sorted(
        ((spec.get("selector") or {}).get("matchLabels") or {}).items()))
    cells = [meta["name"], job_status(obj), shown, duration,
             human_duration(now - parse_rfc3339(meta["creationTimestamp"])),
             ",".join(str(c.get("name", "")) for c in containers),
             ",".join(str(c.get("image", "")) for c in containers), selector]
    return with_object({"cells": cells}, obj, include, kind="Job", api_version=API_VERSION)


def table(items: list[dict[str, Any]], *, resource_version: str, include: str
          ) -> dict[str, Any]:
    now = time.time()
    return render([row(o, include, now) for o in items], columns=COLUMNS,
                  resource_version=resource_version)


def table_line(kind: str, obj: dict[str, Any], include: str) -> bytes:
    tbl = table([obj], resource_version=obj["metadata"]["resourceVersion"], include=include)
    return orjson.dumps({"type": kind, "object": tbl}) + b"\n"
