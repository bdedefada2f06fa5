"""The base of every settings section: one prefix, one way to read a list.

Each section is a pydantic-settings class of its own (``BusSettings()`` reads only the bus's
variables); :class:`pushsvc.settings.Settings` inherits them all, so every field keeps its
``PUSHSVC_<NAME>`` variable and its ``settings.<name>`` attribute.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PUSHSVC_"


class Section(BaseSettings):
    """A group of settings read from ``PUSHSVC_*`` variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    #: The section's heading in ``pushsvc serve --help`` and docs/configuration.md; the
    #: class docstring is the line under it.
    title: ClassVar[str] = ""


def burst_of(rate: float, seconds: float) -> int:
    """A token bucket's size holding ``seconds`` of ``rate``, at least one token (``round``
    first: ``5 * 0.6`` is 3.0000000000000004, which is 3 tokens, not 4)."""
    return max(1, math.ceil(round(rate * seconds, 6)))


def split_commas(value: object) -> object:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (a list setting given as one variable)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
