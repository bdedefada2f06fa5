"""The version is written in one place, ``pushsvc/__init__.py``: the package metadata reads it
from there (setuptools parses the file for the literal, importing nothing, so building the
metadata needs no server stack), and the notifier library, which may not import ``pushsvc``,
carries the same value."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib

import pytest

import emitter
import pushsvc
from tests.support.pushsvc_proc import REPO_ROOT

_READ_ATTR = """
import json, sys
from setuptools.config.expand import read_attr
version = read_attr("pushsvc.__version__", root_dir=sys.argv[1])
heavy = sorted(m for m in ("flask", "gevent", "kubernetes", "socketio", "pushsvc")
               if m in sys.modules)
print(json.dumps({"version": version, "imported": heavy}))
"""


def test_pyproject_takes_the_version_from_pushsvc():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "pushsvc.__version__"}


@pytest.mark.server
def test_setuptools_reads_the_version_without_importing_the_package():
    done = subprocess.run([sys.executable, "-c", _READ_ATTR, str(REPO_ROOT)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == {"version": pushsvc.__version__, "imported": []}


def test_the_version_is_a_plain_literal_so_it_is_read_statically():
    tree = ast.parse((REPO_ROOT / "pushsvc" / "__init__.py").read_text())
    literals = [node.value.value for node in tree.body
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)]
    assert literals == [pushsvc.__version__]


def test_the_emitter_carries_the_same_version():
    assert emitter.__version__ == pushsvc.__version__, (
        "bump emitter/__init__.py's __version__ with pushsvc/__init__.py's")
