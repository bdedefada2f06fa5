"""Discovery documents: just enough for kubectl 1.32 and the Python client to find Events.

kubectl first asks for aggregated discovery (apidiscovery.k8s.io/v2); a plain JSON answer makes
it fall back to the legacy documents served here. For OpenAPI, kubectl only checks that the
Event kind is published (it then leaves validation to the server with ``fieldValidation``), so
``/openapi/v3`` names that kind and nothing more.
"""

from __future__ import annotations

from typing import Any

from . import jobs, leases

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kubeapi-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_EVENTS_RESOURCE = {
    "name": "events",
    "singularName": "event",
    "namespaced": True,
    "kind": "Event",
    "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    "shortNames": ["ev"],
    "storageVersionHash": "r2yiGXH7wu8=",
}


def document(path: str, host: str, port: int) -> dict[str, Any] | None:
    path = path.rstrip("/") or "/"
    if path == "/version":
        return VERSION
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host}:{port}"}
            ],
        }
    if path == "/api/v1":
        return {"kind": "APIResourceList", "groupVersion": "v1", "resources": [_EVENTS_RESOURCE]}
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [jobs.API_GROUP, leases.API_GROUP]}
    if path == "/apis/batch":
        return {"kind": "APIGroup", "apiVersion": "v1", **jobs.API_GROUP}
    if path == "/apis/batch/v1":
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": jobs.API_VERSION, "resources": jobs.API_RESOURCES}
    if path == "/apis/coordination.k8s.io":
        return {"kind": "APIGroup", "apiVersion": "v1", **leases.API_GROUP}
    if path == "/apis/coordination.k8s.io/v1":
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": leases.GROUP_VERSION["groupVersion"],
                "resources": [leases.API_RESOURCE]}
    if path == "/openapi/v3":
        return {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=KUBEAPIEMU"},
                          "api": {"serverRelativeURL": "/openapi/v3/api?hash=KUBEAPIEMU"},
                          "apis/batch/v1": {"serverRelativeURL":
                                            "/openapi/v3/apis/batch/v1?hash=KUBEAPIEMU"}}}
    if path == "/openapi/v3/apis/batch/v1":
        return _OPENAPI_BATCH_V1
    if path == "/openapi/v3/api/v1":
        return _OPENAPI_V1
    return None


EVENT_FIELDS = frozenset({
    "kind", "apiVersion", "metadata", "involvedObject", "reason", "message", "source",
    "firstTimestamp", "lastTimestamp", "count", "type", "eventTime", "series", "action",
    "related", "reportingComponent", "reportingInstance",
})

def _openapi(*, path: str, operation: str, group: str, kind: str, schema: str,
             properties: list[str], required: list[str] | None = None) -> dict[str, Any]:
    """An OpenAPI v3 document with what kubectl looks for: a PATCH operation of the kind with a
    ``fieldValidation`` parameter (cli-runtime query_param_verifier_v3.go), before it leaves
    validation to the server, and the kind's schema."""
    gvk = {"group": group, "kind": kind, "version": "v1"}
    definition: dict[str, Any] = {"type": "object"}
    if required:
        definition["required"] = required
    definition["properties"] = {name: {} for name in properties}
    definition["x-kubernetes-group-version-kind"] = [gvk]
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": {path: {"patch": {
            "operationId": operation,
            "parameters": [{"name": "fieldValidation", "in": "query",
                            "schema": {"type": "string", "uniqueItems": True}}],
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
        }}},
        "components": {"schemas": {schema: definition}},
    }


_OPENAPI_V1 = _openapi(path="/api/v1/namespaces/{namespace}/events/{name}",
                       operation="patchCoreV1NamespacedEvent", group="", kind="Event",
                       schema="io.k8s.api.core.v1.Event", properties=sorted(EVENT_FIELDS),
                       required=["metadata", "involvedObject"])
# kubectl create job checks the same of Jobs.
_OPENAPI_BATCH_V1 = _openapi(path="/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
                             operation="patchBatchV1NamespacedJob", group="batch", kind="Job",
                             schema="io.k8s.api.batch.v1.Job",
                             properties=["apiVersion", "kind", "metadata", "spec", "status"])
