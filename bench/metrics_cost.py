"""What the metrics add to one token request: the counters and histograms a token request
touches (``token_request`` and ``http_request``), timed in prometheus-client's multiprocess
mode as ``authserver serve`` runs them (an mmap write per value), and in-process.

    .venv/bin/python -m bench.metrics_cost

Compare the figure with a token request's CPU time (``docs/reference/performance.md``:
about 0.8 ms a request on this machine's two cores at 2,387 req/s).
"""

from __future__ import annotations

import os
import tempfile
import timeit

ROUNDS = 20_000


def per_request_us(multiprocess: bool) -> float:
    if multiprocess:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")
    from authserver.metrics import Metrics

    metrics = Metrics()

    def one_request() -> None:
        metrics.token_request("client_credentials", None, 0.0011)
        metrics.http_request("/oauth/token", 200, 0.0012)

    one_request()
    best = min(timeit.repeat(one_request, number=ROUNDS, repeat=5))
    return best / ROUNDS * 1e6


def main() -> None:
    # Multiprocess first: prometheus-client picks its value store once per process.
    print(f"metrics per token request, multiprocess (authserver serve): {per_request_us(True):.1f} µs")


if __name__ == "__main__":
    main()
