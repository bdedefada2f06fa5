"""``notify(..., user=...)`` and ``pushsvc-notify --user``: on the wire a user is the room
``user:<sub>``, nothing else; with no room given it goes to those users only."""

from __future__ import annotations

import subprocess

import pytest

import emitter
from emitter import MessageError
from pushsvc.testing.procs import console_script


def test_notify_to_a_user_is_an_emit_to_its_user_room(kube_api, monkeypatch):
    kube_api.use_as_notifier(monkeypatch)
    emitter.notify("report_ready", {"id": 1}, user="alice")
    emitter.notify("report_ready", {"id": 2}, user=["alice", "bob"], to="finance")
    first, second = kube_api.messages()
    assert first.room == "user:alice"
    assert second.room == ["finance", "user:alice", "user:bob"]


@pytest.mark.parametrize("user", ["", [], [""], 5])
def test_a_bad_user_is_a_message_error_before_any_call(offline_emitter, user):
    with pytest.raises(MessageError, match="user must be"):
        offline_emitter.notify("ev", 1, user=user)


def test_pushsvc_notify_takes_users(kube_api):
    done = subprocess.run(
        [console_script("pushsvc-notify"), "--event", "ping", "--data", "1", "--user", "alice",
         "--user", "bob"],
        env=kube_api.notifier_env(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    [message] = kube_api.messages()
    assert message.room == ["user:alice", "user:bob"]
