"""PUSHSVC_AUTH_TOKEN: an empty one is refused at start-up; a set one never shows in repr."""

from __future__ import annotations

import os
import subprocess

import pytest
from pydantic import ValidationError

from pushsvc.settings import Settings
from pushsvc.sio import token_matches
from tests.support.pushsvc_proc import REPO_ROOT, pushsvc_executable


def test_an_empty_token_stops_the_server_at_start_up_with_a_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    env.update({"PUSHSVC_AUTH_TOKEN": "", "PUSHSVC_PORT": "1"})
    done = subprocess.run([str(pushsvc_executable()), "serve"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "PUSHSVC_AUTH_TOKEN is set but empty" in done.stderr


def test_a_start_up_error_never_prints_the_token() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    env.update({"PUSHSVC_AUTH_TOKEN": "do-not-print-me", "PUSHSVC_PORT": "99999"})
    done = subprocess.run([str(pushsvc_executable()), "serve"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "PUSHSVC_PORT" in done.stderr
    assert "do-not-print-me" not in done.stderr + done.stdout


def test_an_empty_token_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="set but empty"):
        Settings(auth_token="")  # type: ignore[arg-type]


def test_the_token_is_hidden_in_the_settings_repr() -> None:
    settings = Settings(auth_token="hunter2-token")  # type: ignore[arg-type]
    assert "hunter2-token" not in repr(settings)
    assert "hunter2-token" not in str(settings.model_dump())
    assert settings.auth_token is not None
    assert settings.auth_token.get_secret_value() == "hunter2-token"


@pytest.mark.parametrize("given", ["\ud800", "right\udfff", 5, None, b"right", ["right"]])
def test_token_comparison_never_raises_and_refuses_what_is_not_the_token(given: object
                                                                          ) -> None:
    assert token_matches(given, "right") is False


def test_token_comparison_accepts_the_token() -> None:
    assert token_matches("right-\u00e9", "right-\u00e9") is True
