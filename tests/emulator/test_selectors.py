"""Label selectors on any label; only the registered field selectors, else 400."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Http, event


@pytest.fixture
def http(shared_http: Http) -> Http:
    """These tests only read and write their own namespace: share one emulator."""
    return shared_http

SUPPORTED = [
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
    "metadata.name", "metadata.namespace",
]


def _names(http: Http, ns: str, **params: str) -> list[str]:
    resp = http.get(f"/api/v1/namespaces/{ns}/events", params=params)
    assert resp.status_code == 200, resp.text
    return sorted(i["metadata"]["name"] for i in resp.json()["items"])


def _seed(http: Http, ns: str) -> None:
    http.create(ns, event(ns, "a", metadata={"labels": {"room": "lobby", "tier": "x"}},
                            reason="Joined", source={"component": "pushsvc"}))
    http.create(ns, event(ns, "b", metadata={"labels": {"room": "game"}}, type="Warning"))
    http.create(ns, event(ns, "c"))


def test_label_selectors_support_equality_sets_and_existence(http: Http, ns: str) -> None:
    _seed(http, ns)
    assert _names(http, ns, labelSelector="room=lobby") == ["a"]
    assert _names(http, ns, labelSelector="room==game") == ["b"]
    assert _names(http, ns, labelSelector="room!=lobby") == ["b", "c"]
    assert _names(http, ns, labelSelector="room in (lobby,game)") == ["a", "b"]
    assert _names(http, ns, labelSelector="room notin (lobby)") == ["b", "c"]
    assert _names(http, ns, labelSelector="room") == ["a", "b"]
    assert _names(http, ns, labelSelector="!room") == ["c"]
    assert _names(http, ns, labelSelector="room=lobby,tier=x") == ["a"]


def test_supported_field_selectors_filter(http: Http, ns: str) -> None:
    _seed(http, ns)
    assert _names(http, ns, fieldSelector="metadata.name=b") == ["b"]
    assert _names(http, ns, fieldSelector="reason=Joined") == ["a"]
    assert _names(http, ns, fieldSelector="type!=Normal") == ["b"]
    assert _names(http, ns, fieldSelector="source=pushsvc") == ["a"]
    assert _names(http, ns, fieldSelector="involvedObject.name=web-0,type=Normal") == ["a", "c"]


def test_every_registered_field_label_is_accepted(http: Http, ns: str) -> None:
    for field in SUPPORTED:
        assert http.get(f"/api/v1/namespaces/{ns}/events",
                        params={"fieldSelector": f"{field}=x"}).status_code == 200, field


def test_an_unsupported_field_label_is_400_field_label_not_supported(http: Http, ns: str) -> None:
    resp = http.get(f"/api/v1/namespaces/{ns}/events", params={"fieldSelector": "message=hi"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["kind"] == "Status" and body["reason"] == "BadRequest"
    assert body["message"] == "field label not supported: message"
    watch = http.get(f"/api/v1/namespaces/{ns}/events",
                     params={"watch": "true", "fieldSelector": "spec.foo=1"})
    assert watch.status_code == 400


def test_selectors_apply_to_watches_per_watcher(http: Http, ns: str) -> None:
    lobby = http.watch(f"/api/v1/namespaces/{ns}/events", labelSelector="room=lobby",
                       resourceVersion="1", timeoutSeconds=10)
    warnings = http.watch(f"/api/v1/namespaces/{ns}/events", fieldSelector="type=Warning",
                          resourceVersion="1", timeoutSeconds=10)
    _seed(http, ns)
    assert lobby.next()["object"]["metadata"]["name"] == "a"
    assert warnings.next()["object"]["metadata"]["name"] == "b"
    lobby.close()
    warnings.close()
