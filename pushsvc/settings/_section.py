"""The base of every settings section: one prefix, one way to read a list.

Each section is a pydantic-settings class of its own (``BusSettings()`` reads only the bus's
variables); :class:`pushsvc.settings.Settings` inherits them all, so every field keeps its
``PUSHSVC_<NAME>`` variable and its ``settings.<name>`` attribute.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PUSHSVC_"


class Section(BaseSettings):
    """A group of settings read from ``PUSHSVC_*`` variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    #: The section's heading in ``pushsvc serve --help`` and docs/configuration.md; the
    #: class docstring is the line under it.
    title: ClassVar[str] = ""


def split_commas(value: object) -> object:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (a list setting given as one variable)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
