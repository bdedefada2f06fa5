"""pytest starts in an environment with pushsvc but without its testing extra.

pytest loads every ``pytest11`` plugin at start-up, so a plugin that imported its
dependencies eagerly would break every test suite of a notifier-only install (as kmock's
plugin does without pytest-asyncio). Only using a fixture needs the extra, and it says so.
"""

from __future__ import annotations

import sys

from tests.toolkit.conftest import UserSuite

# ``python -c CODE -m pytest ARGS...``: CODE hides the testing extra's packages, then runs
# pytest on ARGS (sys.argv[3:]), plugins from entry points included.
WITHOUT_EXTRA = [
    sys.executable, "-c",
    "import sys; sys.modules.update(yaml=None, gevent=None, orjson=None); "
    "import pytest; raise SystemExit(pytest.main(sys.argv[3:]))",
]

USER_TESTS = '''
def test_plain(tmp_path):
    assert tmp_path.is_dir()


def test_needs_the_emulator(kube_api):
    pass
'''


def test_a_suite_without_the_extra_runs_and_the_fixture_names_what_to_install(
    user_suite: UserSuite,
) -> None:
    done = user_suite({"test_user.py": USER_TESTS}, python=WITHOUT_EXTRA)
    assert "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 error" in done.stdout
    assert "pip install 'pushsvc[testing]'" in done.stdout
