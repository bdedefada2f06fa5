"""Build step: the wheel carries the browser files pushsvc serves, copied from node_modules.

The Socket.IO browser client (``/js/socket.io.min.js``) and the Admin UI with its icon
font are npm packages, pinned in package-lock.json and installed by ``npm ci``; they are
never committed. ``build_py`` copies them into ``pushsvc/_assets/`` of the build, so a
``pip install 'pushsvc[server]'`` serves a page that connects, with no setting. A build
without them (or with node_modules older than package-lock.json) stops with one line
saying to run ``npm ci``. An sdist carries the copied files too, so a wheel built from it
(``python -m build``, ``pip install pushsvc-X.tar.gz``) needs no npm. An editable install
copies nothing: the server finds the source tree's node_modules (pushsvc/web/assets.py).
Everything else is in pyproject.toml.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
NODE_MODULES = ROOT / "node_modules"
#: npm package, folder in it, destination under pushsvc/_assets, files (None: all of them).
#: The JS client's files are pushsvc.web.routes.JS_CLIENT_FILES.
ASSETS = [
    ("socket.io-client", "dist", "js",
     ["socket.io.min.js", "socket.io.min.js.map", "socket.io.js", "socket.io.js.map"]),
    ("@socket.io/admin-ui", "ui/dist", "admin-ui", None),
    ("@mdi/font", "css", "admin-icons/css", None),
    ("@mdi/font", "fonts", "admin-icons/fonts", None),
]


class AssetError(SystemExit):
    """Stops the build with one line (setuptools prints a SystemExit's text as is)."""


def _pinned_versions() -> dict[str, str]:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return {path.removeprefix("node_modules/"): entry.get("version", "")
            for path, entry in lock.get("packages", {}).items() if path}


def copy_assets(destination: Path) -> None:
    if not NODE_MODULES.is_dir() and (ROOT / "pushsvc" / "_assets" / "js").is_dir():
        # An unpacked sdist: the files were copied in when it was made.
        shutil.copytree(ROOT / "pushsvc" / "_assets", destination, dirs_exist_ok=True)
        return
    pinned = _pinned_versions()
    for package, folder, target, files in ASSETS:
        manifest = NODE_MODULES / package / "package.json"
        if not manifest.is_file():
            raise AssetError(f"pushsvc build: {package} is not in node_modules (the wheel carries "
                             f"its browser files): run `npm ci` in {ROOT}, then build again")
        installed = json.loads(manifest.read_text(encoding="utf-8")).get("version")
        if installed != pinned.get(package):
            raise AssetError(f"pushsvc build: node_modules has {package} {installed}, "
                             f"package-lock.json pins {pinned.get(package)}: run `npm ci` in "
                             f"{ROOT}, then build again")
        source = NODE_MODULES / package / folder
        out = destination / target
        if files is None:
            shutil.copytree(source, out, dirs_exist_ok=True)
            continue
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copy2(source / name, out / name)


class build_py_with_assets(build_py):  # noqa: N801  (setuptools' command naming)
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            copy_assets(Path(self.build_lib) / "pushsvc" / "_assets")


class sdist_with_assets(sdist):  # noqa: N801
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        copy_assets(Path(base_dir) / "pushsvc" / "_assets")


setup(cmdclass={"build_py": build_py_with_assets, "sdist": sdist_with_assets})
