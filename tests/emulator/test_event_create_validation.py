"""core/v1 Event create validation (K pkg/apis/core/validation/events.go, AM objectmeta)."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Http, event


@pytest.fixture
def http(shared_http: Http) -> Http:
    """These tests only read and write their own namespace: share one emulator."""
    return shared_http


def _causes(resp_json: dict) -> list[str]:
    return [c["field"] for c in resp_json["details"]["causes"]]


def test_involved_object_namespace_must_match_the_event_namespace(http: Http, ns: str) -> None:
    body = event(ns, "e1")
    body["involvedObject"]["namespace"] = "team-b"
    resp = http.post(f"/api/v1/namespaces/{ns}/events", body)
    assert resp.status_code == 422
    status = resp.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    assert status["message"] == (
        'Event "e1" is invalid: involvedObject.namespace: Invalid value: "team-b": '
        "does not match event.namespace"
    )
    assert _causes(status) == ["involvedObject.namespace"]


def test_an_empty_involved_object_namespace_is_only_accepted_in_default(
        http: Http, ns: str) -> None:
    body = event("default", "e1")
    body["involvedObject"]["namespace"] = ""
    assert http.post("/api/v1/namespaces/default/events", body).status_code == 201
    body = event(ns, "e1")
    body["involvedObject"]["namespace"] = ""
    assert http.post(f"/api/v1/namespaces/{ns}/events", body).status_code == 422


def test_without_event_time_message_and_reason_have_no_length_limit(http: Http, ns: str) -> None:
    body = event(ns, "e1", message="m" * 5000, reason="r" * 500)
    assert http.post(f"/api/v1/namespaces/{ns}/events", body).status_code == 201


def test_with_event_time_reporting_fields_action_and_reason_are_required(
        http: Http, ns: str) -> None:
    body = event(ns, "e1", eventTime="2026-11-25T10:00:00.000000Z", reason="")
    resp = http.post(f"/api/v1/namespaces/{ns}/events", body)
    assert resp.status_code == 422
    assert set(_causes(resp.json())) == {
        "reportingComponent", "reportingInstance", "action", "reason"}


def test_with_event_time_message_is_limited_to_1024_characters(http: Http, ns: str) -> None:
    ok = event(ns, "e1", eventTime="2026-11-25T10:00:00.000000Z",
               reportingComponent="pushsvc", reportingInstance="pod-1", action="Publish",
               message="m" * 1024)
    assert http.post(f"/api/v1/namespaces/{ns}/events", ok).status_code == 201
    too_long = dict(ok, metadata={"name": "e2"}, message="m" * 1025)
    resp = http.post(f"/api/v1/namespaces/{ns}/events", too_long)
    assert resp.status_code == 422
    assert _causes(resp.json()) == ["message"]
    long_instance = dict(ok, metadata={"name": "e3"}, reportingInstance="i" * 129)
    assert http.post(f"/api/v1/namespaces/{ns}/events", long_instance).status_code == 422


def test_annotations_are_limited_to_256_kib_in_total(http: Http, ns: str) -> None:
    fits = event(ns, "e1", metadata={"annotations": {"a": "x" * (256 * 1024 - 1)}})
    assert http.post(f"/api/v1/namespaces/{ns}/events", fits).status_code == 201
    over = event(ns, "e2", metadata={"annotations": {"a": "x" * (200 * 1024),
                                                           "b": "y" * (60 * 1024)}})
    resp = http.post(f"/api/v1/namespaces/{ns}/events", over)
    assert resp.status_code == 422
    assert "metadata.annotations: Too long: must have at most 262144 bytes" in resp.json()[
        "message"]


def test_label_values_are_limited_to_63_characters(http: Http, ns: str) -> None:
    ok = event(ns, "e1", metadata={"labels": {"room": "r" * 63}})
    assert http.post(f"/api/v1/namespaces/{ns}/events", ok).status_code == 201
    bad = event(ns, "e2", metadata={"labels": {"room": "r" * 64}})
    resp = http.post(f"/api/v1/namespaces/{ns}/events", bad)
    assert resp.status_code == 422
    assert "must be no more than 63 characters" in resp.json()["message"]


def test_a_body_over_3_mib_is_rejected_with_413(http: Http, ns: str) -> None:
    body = event(ns, "e1", message="m" * (3 * 1024 * 1024 + 10))
    resp = http.post(f"/api/v1/namespaces/{ns}/events", body)
    assert resp.status_code == 413
    assert resp.json()["reason"] == "RequestEntityTooLarge"


def test_an_object_over_the_etcd_request_limit_fails_like_etcd(http: Http, ns: str) -> None:
    body = event(ns, "e1", message="m" * (2 * 1024 * 1024))
    resp = http.post(f"/api/v1/namespaces/{ns}/events", body)
    assert resp.status_code == 500
    assert resp.json()["message"] == "etcdserver: request is too large"


def test_a_body_namespace_different_from_the_url_is_a_bad_request(http: Http, ns: str) -> None:
    body = event(ns, "e1", metadata={"namespace": "team-b"})
    resp = http.post(f"/api/v1/namespaces/{ns}/events", body)
    assert resp.status_code == 400
    assert resp.json()["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request")


def test_a_name_or_generate_name_is_required(http: Http, ns: str) -> None:
    body = event(ns, "e1")
    body["metadata"] = {}
    resp = http.post(f"/api/v1/namespaces/{ns}/events", body)
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["message"] == (
        "Required value: name or generateName is required")
