"""Prometheus metrics: what the server counts, with label values from small fixed sets.

Labels are route templates, grant types and RFC error codes, never client ids, user names or
raw paths, so a stranger's requests cannot grow the number of series. A value outside its set
is counted as ``other``.

Under ``authserver serve`` the workers count into files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, prometheus-client's multiprocess mode), and ``/metrics`` sums
them: the figures are the server's whatever worker answers, and a restarted worker's counts
stay in the sum. Elsewhere (tests, a WSGI server of your own without that variable) each app
counts in its own registry.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from .oauth.names import GrantType

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
ISSUED = "issued"
# RFC 6749 §5.2, RFC 8707 §2 and RFC 8628 §3.5 token endpoint errors.
TOKEN_ERRORS = frozenset({
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "invalid_target", "authorization_pending", "slow_down", "access_denied", "expired_token",
    "invalid_dpop_proof", "use_dpop_nonce", "server_error", "temporarily_unavailable",
})
GRANT_TYPES = frozenset(GrantType)
SIGN_IN_OUTCOMES = frozenset({"success", "failure", "throttled"})
# Seconds: a token request takes a millisecond or two; a sign-in's password hash ~100 ms.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


@contextmanager
def multiprocess_directory() -> Iterator[Path]:
    """The directory a server's workers count in, for as long as it serves: a fresh one
    (removed at the end), or ``PROMETHEUS_MULTIPROC_DIR`` if set, emptied of an earlier
    run's files, which would otherwise be summed into this one's figures."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="authserver-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(directory)
    owner = os.getpid()
    try:
        yield directory
    finally:
        # A forked worker that exits unwinds through here too (gunicorn's sys.exit on a
        # reload): only the server's own process may remove what its workers count in.
        if os.getpid() == owner:
            del os.environ[MULTIPROCESS_DIR]
            shutil.rmtree(directory, ignore_errors=True)


def bounded(value: str | None, allowed: Iterable[str]) -> str:
    return value if value is not None and value in allowed else OTHER


def _multiprocess() -> bool:
    """prometheus-client picks its value store when first imported; a process forked from
    one that imported it before ``authserver serve`` set the directory picks it again here,
    once."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return False
    if not values.ValueClass._multiprocess:
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    return True


class Metrics:
    """The contract's metrics (``../shared/DESIGN.md``, "Operating it") for one app."""

    def __init__(self) -> None:
        self.multiprocess = _multiprocess()
        # In multiprocess mode the files are the registry: the metrics register nowhere.
        self.registry = None if self.multiprocess else CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.token_requests = Counter("authserver_token_requests", "Token endpoint requests by grant and outcome.",
                                      ["grant_type", "outcome"], registry=registry)
        self.token_seconds = Histogram("authserver_token_request_seconds", "Token endpoint answer time.",
                                       ["grant_type"], buckets=BUCKETS, registry=registry)
        self.introspections = Counter("authserver_introspection_requests", "Introspection answers by activity.",
                                      ["active"], registry=registry)
        self.revocations = Counter("authserver_revocations", "Revocation requests answered 200.",
                                   registry=registry)
        self.sign_ins = Counter("authserver_sign_ins", "Password sign-ins by outcome.", ["outcome"],
                                registry=registry)
        self.refresh_reuse = Counter("authserver_refresh_reuse_detected",
                                     "Rotated refresh tokens presented again (their family revoked).",
                                     registry=registry)
        self.http_requests = Counter("authserver_http_requests", "HTTP answers by route template and status.",
                                     ["endpoint", "status"], registry=registry)
        self.http_seconds = Histogram("authserver_http_request_seconds", "HTTP answer time by route template.",
                                      ["endpoint"], buckets=BUCKETS, registry=registry)
        # The labelled series of the hot paths, looked up once: the label sets are bounded.
        self._token_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._http_children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def token_request(self, grant_type: str | None, error: str | None, seconds: float) -> None:
        grant = bounded(grant_type, GRANT_TYPES)
        key = (grant, ISSUED if error is None else bounded(error, TOKEN_ERRORS))
        children = self._token_children.get(key)
        if children is None:  # prometheus-client's labels() costs more than the increment
            children = self._token_children[key] = (self.token_requests.labels(*key), self.token_seconds.labels(grant))
        children[0].inc()
        children[1].observe(seconds)

    def introspection(self, active: bool) -> None:
        self.introspections.labels("true" if active else "false").inc()

    def sign_in(self, outcome: str) -> None:
        self.sign_ins.labels(bounded(outcome, SIGN_IN_OUTCOMES)).inc()

    def http_request(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        children = self._http_children.get(key)
        if children is None:
            children = self._http_children[key] = (self.http_requests.labels(endpoint, str(status)),
                                                   self.http_seconds.labels(endpoint))
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        """The text format, summed over every worker's files in multiprocess mode."""
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
