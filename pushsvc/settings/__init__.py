"""All of pushsvc's configuration, in one pydantic-settings object made of sections.

Every field is read from an environment variable with the ``PUSHSVC_`` prefix
(``PUSHSVC_PORT=8000``). Each module here is one section (serving, clients, engine, limits,
connects, bus, janitor, jobs, identity, recovery, presence, admin), a small class of its
own; :class:`Settings` inherits them all, so ``settings.<name>`` reads any of them.
``removed.py`` lists the settings since derived from others or fixed, with what replaced
each (their values stay readable under the old names). The object is built once at
start-up and passed down; nothing else in the code reads the environment.
``pushsvc serve --help`` prints the table from the field descriptions.
"""

from __future__ import annotations

from pushsvc.settings._section import ENV_PREFIX
from pushsvc.settings.combined import SECTIONS, Settings
from pushsvc.settings.docs import NOTIFIER_ENV, SettingDoc, settings_docs, unknown_env_warnings
from pushsvc.settings.removed import REMOVED_SETTINGS, RETIRED_SETTINGS, removed_env_warnings
from pushsvc.settings.serving import LOG_LEVELS

__all__ = [
    "ENV_PREFIX", "LOG_LEVELS", "NOTIFIER_ENV", "REMOVED_SETTINGS", "RETIRED_SETTINGS",
    "SECTIONS", "SettingDoc", "Settings", "removed_env_warnings", "settings_docs",
    "unknown_env_warnings",
]
