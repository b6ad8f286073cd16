"""Benchmarks for authserver and resource_guard: ``python -m bench.run`` (or ``make bench``).

Not part of the test suite: it starts the real server (``authserver serve``), drives it with wrk from
a separate process on loopback, and writes ``bench/results.md``.
"""
