"""``Emitter(transport=...)``: a transport of the caller's gets, for each Event, exactly the
namespace and body the default Kubernetes transport POSTs to
``/api/v1/namespaces/{namespace}/events`` — here a loopback HTTP server that keeps the raw
request — for one notification, a batch and a window; and an Emitter given a transport reads
no kubeconfig."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from emitter import ConfigError, Emitter, decode_event
from emitter.model import emit_message
from emitter.transport import KubernetesTransport, Transport

OBJECT = {"kind": "Pod", "name": "job-pod"}


class Keeper:
    """A transport that keeps what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.calls.append((namespace, body))


class PostedRequests:
    """A loopback HTTP/1.1 server answering every request 201 with ``{}``; keeps (request
    line, body) of each."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[tuple[str, bytes]] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while True:
                    while b"\r\n\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    if b"\r\n\r\n" not in buf:
                        break
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    length = next(int(line.split(":", 1)[1]) for line in lines
                                  if line.lower().startswith("content-length:"))
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    body, buf = buf[:length], buf[length:]
                    self.requests.append((lines[0], body))
                    conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 2\r\n\r\n{}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def posted() -> Iterator[PostedRequests]:
    server = PostedRequests()
    try:
        yield server
    finally:
        server.close()


def _api_client(port: int) -> ApiClient:
    configuration = Configuration(host=f"http://127.0.0.1:{port}")
    configuration.api_key = {"authorization": "token"}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return ApiClient(configuration)


def _emitters(port: int, **options: Any) -> tuple[Emitter, Emitter, Keeper]:
    keeper = Keeper()
    common = {"bus_namespace": "bus", "channel": "pushsvc", "host_id": "h1",
              "involved_object": OBJECT, **options}
    api_client = _api_client(port)
    return (Emitter(api_client=api_client, **common), Emitter(transport=keeper, **common),
            keeper)


def _same_but_name_and_time(kube: dict[str, Any], custom: dict[str, Any]) -> None:
    """Equal but for what is new per Event: the name, the timestamps and the envelope's ts
    (whose digits the size in the summary counts)."""
    def strip(body: dict[str, Any]) -> dict[str, Any]:
        body = json.loads(json.dumps(body))
        body["metadata"]["name"] = body["metadata"]["name"].rsplit("-", 1)[0]
        payload = json.loads(body["metadata"]["annotations"]["pushsvc.io/payload"])
        payload.pop("ts")
        body["metadata"]["annotations"]["pushsvc.io/payload"] = payload
        for key in ("firstTimestamp", "lastTimestamp"):
            body.pop(key)
        body["message"] = re.sub(r"\([\d,]+ bytes\)$", "(N bytes)", body["message"])
        return body

    assert strip(kube) == strip(custom)


def _messages(bodies: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(m.event, m.data) for body in bodies for m in decode_event(body).messages]


def test_publish_gives_the_transport_the_body_the_kubernetes_transport_posts(posted):
    kube, custom, keeper = _emitters(posted.port)
    messages = [emit_message("report_ready", {"id": 42}, host_id="h1", room="finance"),
                emit_message("bytes", (b"\x00\xff", 1), host_id="h1", user="alice")]
    kube.publish(messages, name="pushsvc-report-ready-1", ts=1000.5)
    custom.publish(messages, name="pushsvc-report-ready-1", ts=1000.5)
    [(request_line, raw)] = posted.requests
    [(namespace, body)] = keeper.calls
    assert request_line == "POST /api/v1/namespaces/bus/events HTTP/1.1"
    assert namespace == "bus"
    stamps = ("firstTimestamp", "lastTimestamp")  # the second each body was built in
    assert ({k: v for k, v in json.loads(raw).items() if k not in stamps}
            == {k: v for k, v in body.items() if k not in stamps})


@pytest.mark.parametrize("mode", ["notify", "batch", "window"])
def test_every_mode_hands_the_transport_the_events_the_api_would_get(posted, mode):
    options = {"batch_window_seconds": 0.05} if mode == "window" else {}
    kube, custom, keeper = _emitters(posted.port, **options)
    for em in (kube, custom):
        if mode == "batch":
            with em.batch():
                for n in range(120):  # three Events of at most 50 messages
                    em.notify("row", {"n": n}, to="team-a")
        else:
            for n in range(3):
                em.notify("row", {"n": n}, to="team-a")
        em.close()
    bodies = [json.loads(raw) for _, raw in posted.requests]
    kept = [body for _, body in keeper.calls]
    assert {ns for ns, _ in keeper.calls} == {"bus"}
    if mode == "window":  # how many Events a window makes depends on timing: the messages
        assert _messages(bodies) == _messages(kept) == [("row", [{"n": n}]) for n in range(3)]
        return
    assert len(bodies) == len(kept) == 3
    for sent, got in zip(bodies, kept, strict=True):
        _same_but_name_and_time(sent, got)


def test_the_default_transport_is_the_kubernetes_one_on_the_api_client(posted):
    api_client = _api_client(posted.port)
    em = Emitter(api_client=api_client, bus_namespace="bus", request_timeout=(2.0, 3.0))
    assert isinstance(em.transport, KubernetesTransport)
    assert em.transport.api_client is api_client
    assert em.transport.request_timeout == (2.0, 3.0)
    assert isinstance(Keeper(), Transport)


def test_an_emitter_with_a_transport_reads_no_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("PUSHSVC_BUS_NAMESPACE", raising=False)
    keeper = Keeper()
    em = Emitter(transport=keeper)
    em.notify("ping")
    assert em.api_client is None
    assert [ns for ns, _ in keeper.calls] == ["default"]
    with pytest.raises(ConfigError, match="no such kubeconfig|does not exist"):
        Emitter()  # the same environment without a transport: the kubeconfig is needed


def test_a_transport_with_an_api_client_or_without_create_event_is_a_config_error(posted):
    with pytest.raises(ConfigError, match="pass one"):
        Emitter(transport=Keeper(), api_client=_api_client(posted.port))
    with pytest.raises(ConfigError, match="pass one"):
        Emitter(transport=Keeper(), kubeconfig="/nowhere")
    with pytest.raises(ConfigError, match="has no create_event"):
        Emitter(transport=object())  # type: ignore[arg-type]
