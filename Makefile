# The two fresh-machine commands are `make serve` and `make test`.
.PHONY: setup setup-all serve test lint demo bench bench-smoke

setup:
	./scripts/setup.sh

setup-all:
	./scripts/setup.sh --all

serve: setup
	.venv/bin/pushsvc serve

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

test: setup-all lint
	.venv/bin/python -m pytest -n auto --dist loadfile

demo: setup-all
	.venv/bin/pushsvc demo

bench: setup-all
	.venv/bin/python -m bench

bench-smoke: setup-all
	.venv/bin/python -m bench --smoke
