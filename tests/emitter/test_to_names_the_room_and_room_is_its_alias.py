"""The names a Flask-SocketIO user expects: ``notify(..., to=room)``, with ``room=`` (and
``pushsvc-notify --room``, a line's ``"room"``) as its alias; passing both is an error before
anything is sent. ``namespace=`` in ``notify()`` is the Socket.IO namespace; the Kubernetes one
is ``Emitter(bus_namespace=)``, whose old name ``namespace=`` still works with a
DeprecationWarning."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

import emitter
import emitter.transport
from emitter import ConfigError, Emitter, MessageError, decode_event
from pushsvc.testing.procs import console_script
from tests.support import RecordingClient, wait_until


class _Created:
    def drain_conn(self) -> None: ...

    def release_conn(self) -> None: ...


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The messages an Emitter creates Events for (no API server)."""
    messages: list[Any] = []

    def fake_request(api_client: Any, method: str, path: str, **kw: Any) -> _Created:
        messages.extend(decode_event(kw["body"]).messages)
        return _Created()

    monkeypatch.setattr(emitter.transport, "raw_request", fake_request)
    return messages


def test_to_and_its_alias_room_name_the_same_target(offline_emitter, sent):
    offline_emitter.notify("ev", 1, to="finance")
    offline_emitter.notify("ev", 2, room="finance")
    offline_emitter.notify("ev", 3, to=["a", "b"], namespace="/chat")
    offline_emitter.notify("ev", 4)
    assert [(m.room, m.namespace) for m in sent] == [
        ("finance", "/"), ("finance", "/"), (["a", "b"], "/chat"), (None, "/")]


def test_to_and_room_together_are_a_message_error_and_nothing_is_sent(offline_emitter, sent):
    with pytest.raises(MessageError, match=r"got to='a' and room='b': pass to= only"):
        offline_emitter.notify("ev", 1, to="a", room="b")
    with pytest.raises(MessageError, match="pass to= only"):
        emitter.notify("ev", 1, to="a", room="a")  # before the default Emitter is even built
    assert sent == []


def test_the_module_level_notify_passes_to_on(offline_emitter, sent, monkeypatch):
    monkeypatch.setattr(emitter.client, "_default", offline_emitter)
    emitter.notify("ev", 1, to="team", skip_sid="s1", user="alice")
    [message] = sent
    assert (message.room, message.skip_sid) == (["team", "user:alice"], "s1")


def test_emitter_namespace_is_the_deprecated_name_of_bus_namespace():
    with pytest.warns(DeprecationWarning, match="pass bus_namespace="):
        em = Emitter(api_client=object(), namespace="old-ns", channel="pushsvc")  # type: ignore[arg-type]
    assert em.bus_namespace == "old-ns"
    with pytest.warns(DeprecationWarning, match="read Emitter.bus_namespace"):
        assert em.namespace == "old-ns"


def test_emitter_namespace_and_bus_namespace_together_are_a_config_error():
    with pytest.raises(ConfigError, match="pass bus_namespace= only"):
        Emitter(api_client=object(), bus_namespace="a", namespace="b")  # type: ignore[arg-type]


def _notify_cli(kube_api: Any, *args: str, stdin: str | None = None) -> Any:
    return subprocess.run([console_script("pushsvc-notify"), *args], input=stdin,
                          env=kube_api.notifier_env(), capture_output=True, text=True,
                          timeout=60, check=False)


def test_pushsvc_notify_takes_to_and_room_as_its_alias(kube_api):
    first = _notify_cli(kube_api, "--event", "ping", "--data", "1", "--to", "finance")
    second = _notify_cli(kube_api, "--event", "ping", "--data", "2", "--room", "finance")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert [m.room for m in kube_api.messages()] == ["finance", "finance"]


def test_pushsvc_notify_refuses_to_and_room_together(kube_api):
    done = _notify_cli(kube_api, "--event", "ping", "--to", "a", "--room", "b")
    assert done.returncode == 2
    assert "--to and --room given: pass --to only (--room is its alias)" in done.stderr
    assert kube_api.messages() == []


def test_stdin_lines_take_to_room_as_its_alias_and_refuse_both(kube_api):
    lines = [{"event": "a", "to": "x"}, {"event": "b", "room": "y"}, {"event": "c"},
             {"event": "d", "to": "x", "room": "y"}]
    done = _notify_cli(kube_api, "--stdin", "--to", "default-room",
                       stdin="".join(json.dumps(line) + "\n" for line in lines))
    assert done.returncode == 2
    assert 'line 4: "to" and "room" given: pass "to" only' in done.stderr
    assert [(m.event, m.room) for m in kube_api.messages()] == [
        ("a", "x"), ("b", "y"), ("c", "default-room")]


def test_notify_to_a_room_reaches_its_member_on_a_pod_and_no_one_else(bus, bus_pod, monkeypatch):
    member = RecordingClient(transports=["websocket"]).connect(bus_pod.url)
    outsider = RecordingClient(transports=["websocket"]).connect(bus_pod.url)
    with member, outsider:
        member.wait_for_reply("Connected")
        outsider.wait_for_reply("Connected")
        member.emit("join", {"room": "finance"})
        member.wait_for(predicate=lambda p: "finance" in str(p.get("data")))
        with bus.emitter() as em:
            monkeypatch.setattr(emitter.client, "_default", em)
            emitter.notify("report_ready", {"id": 42}, to="finance")
            emitter.notify("report_ready", {"id": 43})  # everyone: the outsider's marker
        wait_until(lambda: len(member.received("report_ready")) >= 2, what="both at the member")
        wait_until(lambda: outsider.received("report_ready"), what="the marker at the outsider")
        assert member.received("report_ready") == [{"id": 42}, {"id": 43}]
        assert outsider.received("report_ready") == [{"id": 43}]


def test_a_stdin_lines_socketio_namespace_is_sio_namespace_with_namespace_its_alias(
    offline_emitter, sent
):
    # In pushsvc-notify, --namespace is the Kubernetes namespace: a line names the Socket.IO
    # one "sio_namespace", as --sio-namespace does ("namespace" stays as its older alias).
    from emitter.cli import send_lines

    lines = ['{"event": "ev", "sio_namespace": "/chat"}', '{"event": "ev", "namespace": "/a"}',
             '{"event": "ev"}']
    send_lines(offline_emitter, lines, to=None, sio_namespace="/")
    offline_emitter.flush()
    assert [m.namespace for m in sent] == ["/chat", "/a", "/"]
    with pytest.raises(ValueError, match='"sio_namespace" and "namespace" given'):
        send_lines(offline_emitter, ['{"event": "ev", "sio_namespace": "/x", "namespace": "/y"}'],
                   to=None, sio_namespace="/")
