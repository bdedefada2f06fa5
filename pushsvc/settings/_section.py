"""The base of every settings section: one prefix, one way to read a list.

Each section is a pydantic-settings class of its own (``BusSettings()`` reads only the bus's
variables); :class:`pushsvc.settings.Settings` inherits them all, so every field keeps its
``PUSHSVC_<NAME>`` variable and its ``settings.<name>`` attribute.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PUSHSVC_"


class Section(BaseSettings):
    """A group of settings read from ``PUSHSVC_*`` variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


def split_commas(value: object) -> object:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (a list setting given as one variable)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
