"""The README's Job → browser example is what a newcomer pastes: its Python uses only public
names of ``emitter`` with parameters that exist, its ``pushsvc-notify`` line parses, and both
publish what the comments say against the Kubernetes API emulator with nothing but the
notifier's ``KUBECONFIG`` set (what ``make demo`` prints). The README stays short."""

from __future__ import annotations

import ast
import inspect
import os
import shlex
import subprocess

import emitter
from emitter.cli import _parser as notify_parser
from pushsvc.testing.procs import console_script
from tests.support.markdown import code_blocks
from tests.support.pushsvc_proc import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
MAX_README_BYTES = 12 * 1024


def _example() -> str:
    [block] = [b for b in code_blocks(README, "python") if "emitter.notify" in b]
    return block


def _notify_lines() -> list[list[str]]:
    commands = [line.split("#")[0] for block in code_blocks(README, "sh")
                for line in block.splitlines()]
    return [shlex.split(c)[1:] for c in commands if "pushsvc-notify " in c]


def test_the_readme_is_at_most_twelve_kilobytes():
    assert len(README.encode()) <= MAX_README_BYTES


def test_the_python_example_uses_only_public_emitter_names_and_their_parameters():
    tree = ast.parse(_example())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [alias.name for n in imports for alias in n.names] == ["emitter"]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert calls
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        assert isinstance(call.func.value, ast.Name) and call.func.value.id == "emitter"
        assert call.func.attr in emitter.__all__, call.func.attr
        parameters = inspect.signature(getattr(emitter, call.func.attr)).parameters
        assert {k.arg for k in call.keywords} <= set(parameters), ast.unparse(call)
        inspect.signature(getattr(emitter, call.func.attr)).bind(
            *(ast.literal_eval(a) for a in call.args),
            **{k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg})


def test_the_python_example_publishes_to_everyone_a_room_and_a_user(kube_api, monkeypatch):
    kube_api.use_as_notifier(monkeypatch)
    exec(compile(_example(), "README.md", "exec"), {})
    assert [(m.event, m.data, m.room) for m in kube_api.messages()] == [
        ("report_ready", [{"id": 42}], None),
        ("report_ready", [{"id": 42}], "finance"),
        ("report_ready", [{"id": 42}], "user:alice"),
    ]


def test_the_pushsvc_notify_line_runs_with_only_the_notifiers_kubeconfig(kube_api):
    [args] = _notify_lines()
    notify_parser().parse_args(args)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"),
           "KUBECONFIG": str(kube_api.kubeconfig())}
    done = subprocess.run([console_script("pushsvc-notify"), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert [(m.event, m.data, m.room) for m in kube_api.messages()] == [
        ("report_ready", [{"id": 42}], None)]

