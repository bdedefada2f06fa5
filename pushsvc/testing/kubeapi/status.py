"""Kubernetes ``Status`` bodies, built the way kube-apiserver builds them.

Clients branch on ``code`` and ``reason`` (the Python client raises ``ApiException`` with the
status; kubectl prints ``message``), so the shapes here copy the real ones field for field.
"""

from __future__ import annotations

from typing import Any

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExists",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answered with a JSON ``Status`` body before any stream starts."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason if reason is not None else _REASONS.get(code, "")
        self.details = details

    def status(self) -> dict[str, Any]:
        return status_body(self.code, self.message, reason=self.reason, details=self.details)


def status_body(
    code: int, message: str, *, reason: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


# The exact ERROR object etcd3 storage sends when a watch starts from a compacted revision.
EXPIRED_STATUS: dict[str, Any] = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "The resourceVersion for the provided watch is too old.",
    "reason": "Expired",
    "code": 410,
}


# etcd3 storage's message for a continue token whose first page's revision is compacted.
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def qualified(resource: str, group: str) -> str:
    """``events`` or ``leases.coordination.k8s.io``: how apiserver names a resource."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, resource: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return details


def not_found(name: str, resource: str = "events", group: str = "") -> ApiError:
    return ApiError(404, f'{qualified(resource, group)} "{name}" not found',
                    details=_details(name, resource, group))


def already_exists(name: str, resource: str = "events", group: str = "") -> ApiError:
    return ApiError(409, f'{qualified(resource, group)} "{name}" already exists',
                    details=_details(name, resource, group))


def conflict(name: str, resource: str = "events", group: str = "") -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": the object '
        "has been modified; please apply your changes to the latest version and try again",
        reason="Conflict",
        details=_details(name, resource, group),
    )


def precondition_failed(name: str, what: str, given: str, actual: str,
                        resource: str = "events", group: str = "") -> ApiError:
    """A DELETE whose DeleteOptions.preconditions no longer match (apimachinery's
    ``Preconditions`` check in the registry's ``Delete``): 409 Conflict."""
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": '
        f"Precondition failed: {what} in precondition: {given}, {what} in object meta: "
        f"{actual}",
        reason="Conflict",
        details=_details(name, resource, group),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def invalid(name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid: ``causes`` are (field, cause reason, text after the field) triples."""
    parts = [f"{field}: {text}" for field, _, text in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        f'Event "{name}" is invalid: {joined}',
        details={
            "name": name,
            "kind": "Event",
            "causes": [
                {"reason": reason, "message": text, "field": field}
                for field, reason, text in causes
            ],
        },
    )


def forbidden(user: str, verb: str, namespace: str | None, name: str | None = None,
              resource: str = "events", group: str = "") -> ApiError:
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    full = qualified(resource, group)
    subject = f'{full} "{name}"' if name else full
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    return ApiError(
        403,
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}"{where}',
        details=details,
    )


UNAUTHORIZED = ApiError(401, "Unauthorized")
