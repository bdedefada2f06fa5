"""The settings as documentation: ``pushsvc serve --help``, docs/configuration.md, and a
warning for every ``PUSHSVC_*`` variable no setting reads."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushsvc.settings._section import ENV_PREFIX
from pushsvc.settings.combined import SECTIONS, Settings
from pushsvc.settings.removed import REMOVED_SETTINGS, RETIRED_SETTINGS

#: Read by the notifier library (emitter), not by the server: known, not misspelt.
NOTIFIER_ENV = frozenset({"PUSHSVC_EMITTER_BATCH_WINDOW_SECONDS", "PUSHSVC_JOB_NAME"})
# Kubernetes puts a Service's address in every pod of its namespace (enableServiceLinks): a
# Service named pushsvc gives PUSHSVC_SERVICE_HOST, PUSHSVC_PORT_5000_TCP_ADDR, ...
_SERVICE_LINK = re.compile(r"_SERVICE_(HOST|PORT(_[A-Z0-9_]+)?)$|_PORT_\d+_(TCP|UDP|SCTP)"
                           r"(_PROTO|_PORT|_ADDR)?$|_PORT$")


@dataclass(frozen=True)
class SettingDoc:
    """One row of the configuration table (``pushsvc serve --help``, docs/configuration.md)."""

    env: str
    kind: str
    default: str
    description: str
    #: The section's title (``Section.title``), the heading the row is listed under.
    section: str = ""


def _kind(name: str, annotation: Any) -> str:
    if name.endswith("_seconds"):
        return "seconds"
    if name.endswith("_bytes"):
        return "bytes"
    text = str(annotation).replace("typing.", "").replace("pydantic.types.", "")
    if text.endswith(" | None"):
        names = {"str": "string", "int": "integer", "SecretStr": "secret string"}
        return names.get(text[: -len(" | None")], text)
    if "Literal" in text:
        return "one of " + text[text.index("[") + 1 : text.rindex("]")].replace("'", "")
    if "list" in text:
        return "comma-separated list"
    return {
        "<class 'int'>": "integer",
        "<class 'str'>": "string",
        "<class 'bool'>": "true/false",
        "<class 'float'>": "number",
    }.get(text, text.replace("<class '", "").replace("'>", ""))


def settings_docs() -> list[SettingDoc]:
    """Every setting with its environment variable, unit/type, default and description,
    section by section (``SECTIONS``' order)."""
    rows = []
    fields = [(section, *item) for section in SECTIONS for item in section.model_fields.items()]
    for section, name, field in fields:
        if field.default_factory is not None:
            default: object = field.default_factory()  # type: ignore[call-arg]
        else:
            default = field.default
        if isinstance(default, list):
            shown = ",".join(default) or "(empty)"
        elif default is None:
            shown = "(unset)"
        else:
            shown = str(default).lower() if isinstance(default, bool) else str(default)
        rows.append(
            SettingDoc(
                env=ENV_PREFIX + name.upper(),
                kind=_kind(name, field.annotation),
                default=shown,
                description=field.description or "",
                section=section.title,
            )
        )
    return rows


def unknown_env_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per ``PUSHSVC_*`` variable that no setting reads, with the closest known name.

    pydantic-settings ignores unknown variables, so a misspelt ``PUSHSVC_PORTT`` would
    silently leave the default in place. Kubernetes' Service links (``PUSHSVC_SERVICE_HOST``,
    ``PUSHSVC_PORT_5000_TCP``, ...) of a Service named pushsvc are not warned about, nor are
    retired and removed settings (``removed_env_warnings`` names what replaced them).
    """
    env = os.environ if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | NOTIFIER_ENV
    lines = []
    for name in sorted(env):
        if (not name.startswith(ENV_PREFIX) or name in known or name in RETIRED_SETTINGS
                or name in REMOVED_SETTINGS):
            continue
        if _SERVICE_LINK.search(name) and name.count("_") >= 2:
            continue
        # Compared without the prefix every name shares, or anything would look close.
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX),
                                          sorted(k.removeprefix(ENV_PREFIX) for k in known),
                                          n=1, cutoff=0.6)
        hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
        lines.append(f"{name} is not a pushsvc setting and is ignored{hint}")
    return lines
