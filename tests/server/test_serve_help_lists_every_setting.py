"""``pushsvc serve --help`` documents every setting: env var, unit/type, default, meaning."""

from __future__ import annotations

import subprocess

from pushsvc.settings import SECTIONS, Settings
from tests.support.pushsvc_proc import REPO_ROOT, pushsvc_executable


def test_serve_help_names_every_setting_with_its_default() -> None:
    result = subprocess.run(
        [str(pushsvc_executable()), "serve", "--help"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    text = result.stdout
    for name in Settings.model_fields:
        assert f"PUSHSVC_{name.upper()}  [" in text, name
    # Grouped: each section's heading, in order, with its own settings after it.
    headings = [text.index(f"\n  {section.title}:\n") for section in SECTIONS]
    assert headings == sorted(headings)
    for section, start in zip(SECTIONS, headings, strict=True):
        for name in section.model_fields:
            assert text.index(f"PUSHSVC_{name.upper()}  [") > start, name
    assert "PUSHSVC_PORT  [integer, default: 5000]" in text
    assert "PUSHSVC_SHUTDOWN_GRACE_SECONDS  [seconds, default: 20.0]" in text
    assert "PUSHSVC_MAX_MESSAGE_BYTES  [bytes, default: 65536]" in text
    assert "PUSHSVC_CORS_ALLOWED_ORIGINS  [comma-separated list, default: (empty)]" in text


def test_an_invalid_setting_stops_serve_with_a_clear_message() -> None:
    result = subprocess.run(
        [str(pushsvc_executable()), "serve"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        env={"PUSHSVC_CORS_ALLOWED_ORIGINS": "*", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "'*' is refused in PUSHSVC_CORS_ALLOWED_ORIGINS" in result.stderr
