"""Errors before a stream starts are JSON Status bodies; 401 for unknown tokens."""

from __future__ import annotations

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event


def _is_status(body: dict, code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason


def test_not_found_conflict_invalid_and_bad_request_are_status_bodies(http: Http) -> None:
    _is_status(http.get("/api/v1/namespaces/ns/events/x").json(), 404, "NotFound")
    http.create("ns", event("ns", "x"))
    _is_status(http.post("/api/v1/namespaces/ns/events", event("ns", "x")).json(), 409,
               "AlreadyExists")
    bad = event("ns", "y")
    bad["involvedObject"]["namespace"] = "elsewhere"
    _is_status(http.post("/api/v1/namespaces/ns/events", bad).json(), 422, "Invalid")
    _is_status(http.get("/api/v1/namespaces/ns/events", params={"fieldSelector": "x=1"}
                        ).json(), 400, "BadRequest")
    _is_status(http.get("/api/v1/namespaces/ns/events",
                        params={"watch": "1", "resourceVersion": "abc"}).json(), 400,
               "BadRequest")


def test_invalid_watch_options_are_422(http: Http) -> None:
    resp = http.get("/api/v1/namespaces/ns/events",
                    params={"watch": "1", "resourceVersionMatch": "NotOlderThan",
                            "resourceVersion": "1"})
    assert resp.status_code == 422
    _is_status(resp.json(), 422, "Invalid")
    assert resp.json()["message"].endswith("resourceVersionMatch is forbidden for watch")


def test_an_unknown_token_or_no_token_is_401(kubeapi: KubeAPI) -> None:
    for token in ("not-a-token", None):
        h = Http(kubeapi, token)
        resp = h.get("/api/v1/namespaces/ns/events")
        assert resp.status_code == 401
        _is_status(resp.json(), 401, "Unauthorized")
        assert resp.json()["message"] == "Unauthorized"
        h.close()


def test_an_unknown_path_is_404_status(http: Http) -> None:
    resp = http.get("/apis/apps/v1/namespaces/ns/deployments")
    assert resp.status_code == 404
    _is_status(resp.json(), 404, "NotFound")
