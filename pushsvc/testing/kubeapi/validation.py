"""core/v1 Event create validation, after K pkg/apis/core/validation/events.go and AM objectmeta.

Only what a client can trip over is checked: the name, label values, the 256 KiB annotation
budget, the involvedObject.namespace rule and the extra rules that apply once ``eventTime`` is
set. There is deliberately no limit on ``message`` or ``reason`` without ``eventTime``.
"""

from __future__ import annotations

import re
from typing import Any

from .status import ApiError, invalid

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
LABEL_VALUE_MAX = 63
REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024

_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

Cause = tuple[str, str, str]


def _invalid_value(field: str, value: Any, detail: str) -> Cause:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return (field, "FieldValueInvalid", f"Invalid value: {shown}: {detail}")


def _required(field: str, detail: str = "") -> Cause:
    return (field, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def _too_long(field: str, limit: int) -> Cause:
    return (field, "FieldValueTooLong", f"Too long: must have at most {limit} bytes")


def _check_meta(meta: dict[str, Any], causes: list[Cause]) -> None:
    name = meta.get("name") or ""
    if not name and not meta.get("generateName"):
        causes.append(_required("metadata.name", "name or generateName is required"))
    elif name and (len(name) > 253 or not _DNS_SUBDOMAIN_RE.match(name)):
        causes.append(
            _invalid_value(
                "metadata.name",
                name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        )
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(_invalid_value("metadata.labels", str(labels), "must be a map"))
    else:
        for key, value in labels.items():
            value = value if isinstance(value, str) else str(value)
            if len(value) > LABEL_VALUE_MAX:
                causes.append(
                    _invalid_value(
                        "metadata.labels",
                        value,
                        f"must be no more than {LABEL_VALUE_MAX} characters",
                    )
                )
            elif not _LABEL_VALUE_RE.match(value):
                causes.append(
                    _invalid_value(
                        "metadata.labels",
                        value,
                        "a valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character",
                    )
                )
            del key
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        total = sum(
            len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items()
        )
        if total > TOTAL_ANNOTATION_SIZE_LIMIT:
            causes.append(_too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT))


def validate_event(event: dict[str, Any], namespace: str) -> None:
    """Raise a 422 ``ApiError`` listing every violated rule, as the real server does."""
    meta = event.get("metadata") or {}
    causes: list[Cause] = []
    _check_meta(meta, causes)
    involved = event.get("involvedObject") or {}
    involved_ns = involved.get("namespace") or ""
    ns_cause = _invalid_value("involvedObject.namespace", involved_ns,
                              "does not match event.namespace")
    if not event.get("eventTime"):
        if not involved_ns:
            # Old clients sent cluster-scoped objects' Events to "default".
            if namespace not in ("", "default"):
                causes.append(ns_cause)
        elif involved_ns != namespace:
            causes.append(ns_cause)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            causes.append(ns_cause)
        component = event.get("reportingComponent") or ""
        if not component:
            causes.append(_required("reportingComponent"))
        elif not _QUALIFIED_NAME_RE.match(component.split("/")[-1]) or len(component) > 316:
            causes.append(
                _invalid_value(
                    "reportingComponent",
                    component,
                    "name part must consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
        for field, limit in (
            ("reportingInstance", REPORTING_INSTANCE_LIMIT),
            ("action", ACTION_LIMIT),
            ("reason", REASON_LIMIT),
        ):
            value = event.get(field) or ""
            if not value:
                causes.append(_required(field))
            elif len(value) > limit:
                causes.append(
                    _invalid_value(field, "", f"can have at most {limit} characters")
                )
        message = event.get("message") or ""
        if len(message) > NOTE_LIMIT:
            causes.append(
                _invalid_value("message", "", f"can have at most {NOTE_LIMIT} characters"))
    if causes:
        raise invalid(meta.get("name") or meta.get("generateName") or "", causes)


__all__ = ["ApiError", "validate_event"]
