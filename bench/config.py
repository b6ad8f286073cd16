"""The knobs of one benchmark run, shared by every scenario."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchConfig:
    """Load shape and server settings; the table states them so figures can be compared."""

    duration: float = 5.0
    warmup: float = 1.0
    runs: int = 3
    peer_rounds: int = 5  # interleaved rounds of issuance beside node-oidc-provider
    connections: int = 8
    wrk_threads: int = 2
    workers: int = 2
    threads: int = 1
    compare_threads: int = 4
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    scale_sizes: tuple[int, ...] = (10_000, 1_000_000)
    postgres_admin: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    server: str = "granian"  # authserver serve --server, and the ceiling app's server
    compare_server: str = ""  # also authserver under this server in the rounds beside node-oidc-provider
    only: str = ""  # "issuance", "adapters", "drf" or "asgi": those rows alone (bench/run.py --only)

    @property
    def worker_class(self) -> str:
        return "gthread" if self.threads > 1 else "sync"

    def server_label(self, threads: int | None = None) -> str:
        threads = self.threads if threads is None else threads
        kind = f"{self.server} {'gthread' if threads > 1 else 'sync'}" if self.server == "gunicorn" else self.server
        return f"{kind}, {self.workers} workers" + (f" × {threads} threads" if threads > 1 else "")

    def wrk_label(self) -> str:
        return (f"wrk -t{self.wrk_threads} -c{self.connections} -d{self.duration:g}s --latency "
                f"(after a {self.warmup:g} s warm-up), median of {self.runs} runs")
