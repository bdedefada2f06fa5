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

_OPENAPI_V1: dict[str, Any] = {
    "openapi": "3.0.0",
    "info": {"title": "Kubernetes", "version": "v1.32.0"},
    "paths": {
        # kubectl looks for a PATCH operation of the kind with a fieldValidation parameter
        # (cli-runtime query_param_verifier_v3.go) before leaving validation to the server.
        "/api/v1/namespaces/{namespace}/events/{name}": {
            "patch": {
                "operationId": "patchCoreV1NamespacedEvent",
                "parameters": [{"name": "fieldValidation", "in": "query",
                                "schema": {"type": "string", "uniqueItems": True}}],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": "", "kind": "Event",
                                                    "version": "v1"},
            }
        }
    },
    "components": {
        "schemas": {
            "io.k8s.api.core.v1.Event": {
                "type": "object",
                "required": ["metadata", "involvedObject"],
                "properties": {name: {} for name in sorted(EVENT_FIELDS)},
                "x-kubernetes-group-version-kind": [
                    {"group": "", "kind": "Event", "version": "v1"}
                ],
            }
        }
    },
}


# kubectl create job checks that the server validates fields (a PATCH with fieldValidation)
# and that the Job kind is published, as for Events above.
_OPENAPI_BATCH_V1: dict[str, Any] = {
    "openapi": "3.0.0",
    "info": {"title": "Kubernetes", "version": "v1.32.0"},
    "paths": {
        "/apis/batch/v1/namespaces/{namespace}/jobs/{name}": {
            "patch": {
                "operationId": "patchBatchV1NamespacedJob",
                "parameters": [{"name": "fieldValidation", "in": "query",
                                "schema": {"type": "string", "uniqueItems": True}}],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": "batch", "kind": "Job",
                                                    "version": "v1"},
            }
        }
    },
    "components": {
        "schemas": {
            "io.k8s.api.batch.v1.Job": {
                "type": "object",
                "properties": {name: {} for name in ("apiVersion", "kind", "metadata", "spec",
                                                     "status")},
                "x-kubernetes-group-version-kind": [
                    {"group": "batch", "kind": "Job", "version": "v1"}
                ],
            }
        }
    },
}
