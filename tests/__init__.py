"""pushsvc's own tests; helpers come from conftest.py, tests/support/ and pushsvc.testing."""
