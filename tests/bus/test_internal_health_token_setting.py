"""PUSHSVC_INTERNAL_HEALTH_TOKEN: an empty or short token is refused at start (an empty one
would match ``Authorization: Bearer``), and the token never shows in the settings' repr."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pushsvc.settings import Settings


@pytest.mark.parametrize("token", ["", "   ", "short"])
def test_an_empty_or_short_token_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(internal_health_token=token)


def test_the_token_is_not_in_the_repr() -> None:
    settings = Settings(internal_health_token="a-long-enough-token-123")
    assert "a-long-enough-token-123" not in repr(settings)
