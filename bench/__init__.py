"""pushsvc benchmarks, run as ``python -m bench`` (see bench/__main__.py).

Not part of the installed package: it lives beside it and imports it.
"""
