# The two fresh-machine commands are `make serve` and `make test`. Each sets up what it
# needs (scripts/setup.sh): serve the server extra and the served npm packages, demo adds
# the testing extra and HAProxy, test/lint/bench everything the tests use.
.PHONY: setup setup-demo setup-all serve test test-fast lint demo bench bench-smoke

setup:
	./scripts/setup.sh

setup-demo:
	./scripts/setup.sh --demo

setup-all:
	./scripts/setup.sh --all

serve: setup
	.venv/bin/pushsvc serve

lint: setup-all
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

test: setup-all lint
	.venv/bin/python -m pytest -n auto --dist loadfile

# The unit and one-server tiers only (docs/development.md, "Test tiers"); no lint.
test-fast: setup-all
	.venv/bin/python -m pytest -n auto --dist loadfile -m "unit or server"

demo: setup-demo
	.venv/bin/pushsvc demo

bench: setup-all
	.venv/bin/python -m bench

bench-smoke: setup-all
	.venv/bin/python -m bench --smoke
