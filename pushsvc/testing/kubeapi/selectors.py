"""Label and field selectors as kube-apiserver evaluates them for core/v1 Events.

Field selectors on Events accept only the fields registered in the Event strategy
(pkg/registry/core/event/strategy.go); anything else is a 400 "field label not supported".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .status import ApiError, bad_request

Predicate = Callable[[dict[str, Any]], bool]

# field label -> path in the object; "source" is source.component, as in the real strategy.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "involvedObject.kind": ("involvedObject", "kind"),
    "involvedObject.namespace": ("involvedObject", "namespace"),
    "involvedObject.name": ("involvedObject", "name"),
    "involvedObject.uid": ("involvedObject", "uid"),
    "involvedObject.apiVersion": ("involvedObject", "apiVersion"),
    "involvedObject.resourceVersion": ("involvedObject", "resourceVersion"),
    "involvedObject.fieldPath": ("involvedObject", "fieldPath"),
    "reason": ("reason",),
    "reportingComponent": ("reportingComponent",),
    "source": ("source", "component"),
    "type": ("type",),
}


def _field_value(obj: dict[str, Any], path: tuple[str, ...]) -> str:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    return str(cur)


def parse_field_selector(text: str | None) -> Predicate | None:
    if not text:
        return None
    reqs: list[tuple[tuple[str, ...], bool, str]] = []
    for term in _split_terms(text):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            negate = True
        elif "==" in term:
            key, value = term.split("==", 1)
            negate = False
        elif "=" in term:
            key, value = term.split("=", 1)
            negate = False
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        key = key.strip()
        if key not in EVENT_FIELDS:
            raise bad_request(f"field label not supported: {key}")
        reqs.append((EVENT_FIELDS[key], negate, value.strip()))
    if not reqs:
        return None

    def match(obj: dict[str, Any]) -> bool:
        for path, negate, value in reqs:
            if (_field_value(obj, path) == value) == negate:
                return False
        return True

    return match


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside parentheses (``env in (a,b),tier=x``)."""
    terms: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _check_value(value: str, text: str) -> None:
    if len(value) > 63 or not _LABEL_VALUE_RE.match(value):
        raise bad_request(
            f"unable to parse requirement: values[0]: Invalid value: {value!r}: "
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )


def parse_label_selector(text: str | None) -> Predicate | None:
    if not text:
        return None
    checks: list[Predicate] = []
    for raw in _split_terms(text):
        term = raw.strip()
        if not term:
            continue
        m = _SET_RE.match(term)
        if m:
            key, op, values_text = m.group(1), m.group(2), m.group(3)
            values = {v.strip() for v in values_text.split(",") if v.strip()}
            for v in values:
                _check_value(v, text)
            if op == "in":
                checks.append(_in(key, values))
            else:
                checks.append(_notin(key, values))
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            _check_value(value, text)
            checks.append(_notin(key, {value}))
        elif "==" in term or "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=", 1).split("=", 1))
            _check_value(value, text)
            checks.append(_in(key, {value}))
        elif term.startswith("!"):
            checks.append(_absent(term[1:].strip()))
        elif re.match(r"^[A-Za-z0-9][-A-Za-z0-9_./]*$", term):
            checks.append(_present(term))
        else:
            raise bad_request(f"unable to parse requirement: found '{term}', expected: identifier")

    def match(obj: dict[str, Any]) -> bool:
        return all(check(obj) for check in checks)

    return match


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels = obj.get("metadata", {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _in(key: str, values: set[str]) -> Predicate:
    return lambda obj: _labels(obj).get(key) in values


def _notin(key: str, values: set[str]) -> Predicate:
    # As in apimachinery: a missing label satisfies != and notin.
    return lambda obj: _labels(obj).get(key) not in values


def _present(key: str) -> Predicate:
    return lambda obj: key in _labels(obj)


def _absent(key: str) -> Predicate:
    return lambda obj: key not in _labels(obj)


def combine(*preds: Predicate | None) -> Predicate | None:
    real = [p for p in preds if p is not None]
    if not real:
        return None
    if len(real) == 1:
        return real[0]
    return lambda obj: all(p(obj) for p in real)


__all__ = ["ApiError", "EVENT_FIELDS", "combine", "parse_field_selector", "parse_label_selector"]
