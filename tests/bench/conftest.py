"""Fixtures of the benchmark smoke test (none shared: it runs ``python -m bench`` as CI would)."""
