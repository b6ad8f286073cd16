"""Fixtures for the resource_guard unit tests (helpers live in ``rg_testkit``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import tests.resource_guard.django_settings  # noqa: F401  (Django/DRF read settings on import)
from resource_guard.backends import BearerJWTBackend, TokenRejected
from resource_guard.jwks import JWKSCache, VerificationKey
from tests.resource_guard.pyjwt_oracle import Verdict, pyjwt_errors, unverified_header
from tests.resource_guard.rg_testkit import FakeClock, FakeIssuer, start_issuer


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    """A real HTTP authorization server on 127.0.0.1 whose answers the test controls."""
    state, server = start_issuer()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _cached_key(backend: BearerJWTBackend, token: str) -> VerificationKey | None:
    """The key a token names, from what the backend already fetched (no new fetch: tests
    count them): for tokens refused before the backend looked its key up."""
    kid = unverified_header(token).get("kid")
    for key_set in backend._key_sets.values():
        keys = key_set._keys or {}
        if isinstance(kid, str | None) and kid in keys:
            return keys[kid]
    return None


@pytest.fixture(autouse=True)
def pyjwt_agrees(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Verdict]]:
    """Every token BearerJWTBackend verifies in a test is judged by PyJWT's ``jwt.decode``
    too, and the two must agree (see ``pyjwt_oracle``); yields the verdicts."""
    verdicts: list[Verdict] = []
    used: list[VerificationKey | None] = []
    real_get, real_verify = JWKSCache.get, BearerJWTBackend.verify

    def get(self: JWKSCache, kid: str | None) -> VerificationKey | None:
        key = real_get(self, kid)
        used.append(key)
        return key

    def judge(backend: BearerJWTBackend, token: str, ours: str | None) -> None:
        key = used[-1] if used else _cached_key(backend, token)
        if key is None:
            return
        header = unverified_header(token)
        if ours is None and "crit" in header:
            return  # the application declared it understands these; PyJWT cannot be told
        theirs = pyjwt_errors(backend, token, key, backend._clock(), lenient=ours is None)
        verdicts.append(Verdict(token, header.get("alg"), ours, theirs,
                                aud_checked=backend.audiences is not None))

    def verify(self: BearerJWTBackend, token: str) -> Any:
        used.clear()
        try:
            outcome = real_verify(self, token)
        except TokenRejected as exc:
            judge(self, token, str(exc))
            raise
        judge(self, token, None)
        return outcome

    monkeypatch.setattr(JWKSCache, "get", get)
    monkeypatch.setattr(BearerJWTBackend, "verify", verify)
    yield verdicts
    disagreements = [(v.token, v.disagreement) for v in verdicts if v.disagreement]
    assert not disagreements, disagreements
