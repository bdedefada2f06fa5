"""Watch framing: 200, application/json, chunked, one JSON object per line, kind on objects."""

from __future__ import annotations

import json
from http.client import HTTPConnection

from pushsvc.testing.kubeapi import KubeAPI
from tests.emulator.conftest import Http, event


def test_a_watch_is_a_chunked_json_stream_of_one_object_per_line(
        kubeapi: KubeAPI, http: Http) -> None:
    http.create("ns", event("ns", "e1"))
    http.create("ns", event("ns", "e2"))
    conn = HTTPConnection("127.0.0.1", kubeapi.port, timeout=10)
    conn.request("GET", "/api/v1/namespaces/ns/events?watch=1&timeoutSeconds=1",
                 headers={"Authorization": f"Bearer {kubeapi.admin_token()}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    body = resp.read()  # ends when timeoutSeconds closes the stream
    conn.close()
    lines = body.decode().splitlines()
    assert len(lines) == 2 and body.endswith(b"\n")
    for line in lines:
        msg = json.loads(line)
        assert set(msg) == {"type", "object"}
        assert msg["type"] == "ADDED"
        assert msg["object"]["kind"] == "Event" and msg["object"]["apiVersion"] == "v1"


def test_watch_objects_carry_kind_while_list_items_do_not(http: Http) -> None:
    w = http.watch("/api/v1/namespaces/ns/events", resourceVersion="1", timeoutSeconds=10)
    http.create("ns", event("ns", "e1"))
    msg = w.next()
    assert msg["object"]["kind"] == "Event"
    assert "kind" not in http.get("/api/v1/namespaces/ns/events").json()["items"][0]
    w.close()


def test_the_legacy_watch_path_streams_too(http: Http) -> None:
    w = http.session.get(http.url("/api/v1/watch/namespaces/ns/events"),
                         params={"resourceVersion": "1", "timeoutSeconds": "5"}, stream=True,
                         timeout=10)
    http.create("ns", event("ns", "e1"))
    line = next(li for li in w.iter_lines() if li)
    assert json.loads(line)["type"] == "ADDED"
    w.close()
