"""Where the browser files pushsvc serves are: a setting, the wheel's copy, or node_modules.

The Socket.IO browser client and the Admin UI are npm packages (package-lock.json). A wheel
carries them in ``pushsvc/_assets/`` (copied at build time by setup.py, never committed);
a source checkout (an editable install) finds them in its ``node_modules`` after ``npm ci``
(``./scripts/setup.sh``). A setting (``PUSHSVC_JS_CLIENT_DIR``, ...) wins over both.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent.parent / "_assets"
SOURCE_NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
MISSING_HINT = ("a pushsvc wheel carries it; in a source tree run ./scripts/setup.sh (npm ci)")


def asset_dir(setting: str | None, *, packaged: str, node_modules: str, marker: str) -> Path:
    """The folder to serve: ``setting``, else the wheel's copy when it holds ``marker``, else
    the source tree's ``node_modules/<node_modules>``."""
    if setting:
        return Path(setting)
    bundled = PACKAGED / packaged
    if (bundled / marker).is_file():
        return bundled
    return SOURCE_NODE_MODULES / node_modules
