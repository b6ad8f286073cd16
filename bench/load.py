"""Load generation with wrk from a separate process, and the medians the table reports.

wrk (Debian's package) keeps the generator's cost small: C event loops, with LuaJIT only where
a request must change (token pools, the authorization-code state machine).
"""

from __future__ import annotations

import contextlib
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .config import BenchConfig

LUA = Path(__file__).resolve().parent / "lua"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Sample:
    """One wrk run: throughput, latency percentiles (ms), errors and script counters."""

    rps: float
    p50: float
    p99: float
    requests: int
    errors: int
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    """The median of several samples; ``errors`` is their sum, so no failure hides."""

    rps: float
    p50: float
    p99: float
    errors: int
    samples: tuple[Sample, ...]

    def extra(self, key: str) -> int:
        return sum(s.extra.get(key, 0) for s in self.samples)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Sample:
    """Requests/s, the 50 % and 99 % lines of ``--latency``, socket errors and non-2xx/3xx."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        # A read error is a peer closing the connection; sync gunicorn workers close after
        # every response, which wrk may count here although the response was complete.
        errors += int(m.group(1)) + int(m.group(3)) + int(m.group(4))
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(m.group(1))
    extra = {k: int(v) for k, v in re.findall(r"^([A-Z_]+) (\d+)$", output, re.M)}
    return Sample(rps, p50, p99, requests, errors, extra)


def wrk(url: str, script: str, args: Sequence[str], duration: float, cfg: BenchConfig,
        connections: int | None = None, threads: int | None = None) -> Sample:
    cmd = ["wrk", f"-t{threads or cfg.wrk_threads}", f"-c{connections or cfg.connections}",
           f"-d{max(duration, 1):g}s", "--latency", "--timeout", "10s", "-s", str(LUA / script), url, "--", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


Runner = Callable[[float], Sample]


def settle(url: str, timeout: float = 30.0) -> None:
    """Wait until the server has drained what the last run left queued (a sync worker
    finishes accepted requests after wrk stops), so it does not slow the next run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = time.monotonic()
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=timeout)
        if time.monotonic() - started < 0.05:
            return


def measure(runners: dict[str, Runner], cfg: BenchConfig) -> dict[str, Measure]:
    """A warm-up of each runner (fills caches, lets forks settle), then ``cfg.runs`` rounds
    of one timed run each, interleaved, so a neighbour's burst of load hits every figure of
    a ratio alike; each figure is the median of its runs."""
    for run in runners.values():
        if cfg.warmup > 0:
            run(cfg.warmup)
    samples: dict[str, list[Sample]] = {name: [] for name in runners}
    for _ in range(cfg.runs):
        for name, run in runners.items():
            samples[name].append(run(cfg.duration))
    return {name: _median(tuple(s)) for name, s in samples.items()}


@dataclass(frozen=True)
class Paired:
    """The base's figures, each runner's, and each runner's median ratio to the base run just
    before it."""

    base: Measure
    routes: dict[str, Measure]
    ratios: dict[str, float]


def measure_paired(base: Runner, runners: dict[str, Runner], cfg: BenchConfig) -> Paired:
    """Each runner right after a run of ``base``, ``cfg.runs`` rounds: a ratio is taken
    between neighbours in time, so drift in the machine's speed between the start and the
    end of a round cannot pass for a difference."""
    for run in (base, *runners.values()):
        if cfg.warmup > 0:
            run(cfg.warmup)
    bases: list[Sample] = []
    samples: dict[str, list[Sample]] = {name: [] for name in runners}
    ratios: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(cfg.runs):
        for name, run in runners.items():
            before = base(cfg.duration)
            sample = run(cfg.duration)
            bases.append(before)
            samples[name].append(sample)
            ratios[name].append(sample.rps / before.rps if before.rps else 0.0)
    return Paired(_median(tuple(bases)), {name: _median(tuple(s)) for name, s in samples.items()},
                  {name: statistics.median(r) for name, r in ratios.items()})


def _median(samples: tuple[Sample, ...]) -> Measure:
    return Measure(
        rps=statistics.median(s.rps for s in samples),
        p50=statistics.median(s.p50 for s in samples),
        p99=statistics.median(s.p99 for s in samples),
        errors=sum(s.errors for s in samples),
        samples=samples,
    )


def fixed(url: str, method: str, body: str, headers: dict[str, str], cfg: BenchConfig,
          settle_url: str, connections: int | None = None) -> Runner:
    """The same request over and over: ``lua/request.lua``."""
    args = [method, body, *(f"{k}: {v}" for k, v in headers.items())]

    def run(duration: float) -> Sample:
        sample = wrk(url, "request.lua", args, duration, cfg, connections=connections)
        settle(settle_url)
        return sample

    return run


def pooled(url: str, pools: Sequence[Path], mode: str, prefix: str, headers: dict[str, str],
           cfg: BenchConfig, settle_url: str) -> Runner:
    """One pool file per run (warm-up first), so no timed run sees a token twice unless
    the pool wraps, which the sample's ``POOL_WRAPPED`` counter then shows."""
    files = iter(pools)
    extra = [mode, prefix, *(f"{k}: {v}" for k, v in headers.items())]

    def run(duration: float) -> Sample:
        sample = wrk(url, "pool.lua", [str(next(files)), str(cfg.wrk_threads), *extra], duration, cfg)
        settle(settle_url)
        return sample

    return run
