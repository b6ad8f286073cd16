"""Fixtures for the resource_guard unit tests (helpers live in ``rg_testkit``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tests.resource_guard.django_settings  # noqa: F401  (Django/DRF read settings on import)
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
