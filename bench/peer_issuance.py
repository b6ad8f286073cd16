"""client_credentials issuance beside node-oidc-provider, in one run on one machine.

authserver on every database and the peer are all up at once; each round runs the peer, then
authserver on the first database, the peer again, authserver on the next, and so on, so each
authserver run has a peer run just before it. A ratio is the median over the rounds of an
authserver run's req/s ÷ that peer run's: the machine's drift between rounds cancels out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .config import BenchConfig
from .fixtures import Fixtures
from .load import Measure, Runner, measure_paired
from .node_peer import DISCOVERY, NodePeer
from .oauth_scenarios import issue
from .results import Section, fmt_tail
from .server import METADATA, Process

HEADER = ("Scenario", "req/s", "p50 ms", "p99 ms", "p99/p50", "authserver ÷ node-oidc-provider", "Notes")
# The issue's targets for JWT issuance, as authserver ÷ node-oidc-provider.
TARGETS = {("JWT", "sqlite"): 0.6, ("JWT", "postgresql"): 0.5}


@dataclass(frozen=True)
class PeerIssuance:
    """One token format: the peer's figures, authserver's per database, and their ratios."""

    token_format: str
    peer: Measure
    servers: dict[str, Measure]
    ratios: dict[str, float]


def measure(peer: NodePeer, servers: Mapping[str, tuple[Process, Fixtures]], cfg: BenchConfig
            ) -> list[PeerIssuance]:
    """JWT, then opaque: ``cfg.runs`` interleaved rounds each, the same body and Basic header."""
    results = []
    for token_format in ("JWT", "opaque"):
        base = issue(peer.process.url + "/token", peer.client(token_format), cfg, peer.process.url + DISCOVERY)
        runners: dict[str, Runner] = {}
        for db, (server, fx) in servers.items():
            client = fx.jwt_client if token_format == "JWT" else fx.opaque_client
            runners[db] = issue(server.url + "/oauth/token", client, cfg, server.url + METADATA)
        paired = measure_paired(base, runners, cfg)
        results.append(PeerIssuance(token_format, paired.base, paired.routes, paired.ratios))
    return results


def write(section: Section, peer: NodePeer, results: list[PeerIssuance], workers: int, server: str) -> None:
    """One row per server; a key without a server name (``"sqlite"``) is authserver under ``server``."""
    for r in results:
        section.measure(f"{peer.label}, {r.token_format} (in memory, {workers} node processes)", r.peer,
                        fmt_tail(r.peer), "1")
        for db, m in r.servers.items():
            target = TARGETS.get((r.token_format, db))
            ratio = r.ratios[db]
            verdict = f"target ≥ {target:g}" + (" ✗" if ratio < target else " ✓") if target else ""
            where = db if "," in db else f"{db}, {server}"
            section.measure(f"authserver, {r.token_format} ({where})", m, fmt_tail(m), f"{ratio:.2f}", verdict)
