"""resource_guard's Prometheus counters: off (not even imported) until enabled, then each
decision, key set fetch and introspection is counted under bounded labels."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from prometheus_client import CollectorRegistry

from resource_guard import Guard, metrics
from resource_guard.backends import BearerJWTBackend, IntrospectionBackend
from tests.resource_guard.rg_testkit import AUDIENCE, FakeClock, FakeIssuer, make_request

REGISTRY = CollectorRegistry()


@pytest.fixture(scope="module", autouse=True)
def enabled() -> None:
    metrics.enable(REGISTRY)
    metrics.enable()  # a second call changes nothing: still counted in REGISTRY


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_off_by_default_prometheus_is_not_even_imported() -> None:
    program = ("import sys; from resource_guard import Guard, metrics; "
               "from resource_guard.backends import BearerJWTBackend; "
               "from tests.resource_guard.rg_testkit import make_request; "
               "guard = Guard([BearerJWTBackend(issuer='https://issuer.example', audience='a')]); "
               "assert guard.authenticate(make_request('Bearer x')).error; "
               "assert not metrics.enabled() and 'prometheus_client' not in sys.modules")
    subprocess.run([sys.executable, "-c", program], check=True)


def test_each_decision_is_counted_by_backend_and_outcome(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock)
    guard = Guard([backend])
    labels = {"backend": backend.name}
    before = {o: value("resource_guard_authentications_total", **labels, outcome=o) for o in ("success", "failure")}
    anonymous = value("resource_guard_authentications_total", backend="none", outcome="anonymous")
    fetched = value("resource_guard_jwks_fetches_total", outcome="ok")
    assert guard.authenticate(make_request(f"Bearer {issuer.sign()}")).principal is not None
    assert guard.authenticate(make_request(f"Bearer {issuer.sign({'aud': 'https://other.example'})}")).error
    assert guard.authenticate(make_request("Bearer " + uuid.uuid4().hex)).error
    assert guard.authenticate(make_request()).principal is None
    assert value("resource_guard_authentications_total", **labels, outcome="success") - before["success"] == 1
    assert value("resource_guard_authentications_total", **labels, outcome="failure") - before["failure"] == 2
    assert value("resource_guard_authentications_total", backend="none", outcome="anonymous") - anonymous == 1
    assert value("resource_guard_jwks_fetches_total", outcome="ok") - fetched == 1


def test_a_failed_key_set_fetch_is_counted(issuer: FakeIssuer, clock: FakeClock) -> None:
    issuer.jwks_status = 500
    failed = value("resource_guard_jwks_fetches_total", outcome="error")
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock)])
    assert guard.authenticate(make_request(f"Bearer {issuer.sign()}")).error
    assert value("resource_guard_jwks_fetches_total", outcome="error") - failed == 1


def test_introspections_are_timed(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = "asat_" + uuid.uuid4().hex
    issuer.introspection[token] = {"active": True, "sub": "u", "client_id": "c", "scope": "reports:read",
                                   "exp": int(clock.now) + 600, "aud": AUDIENCE, "iss": issuer.url}
    backend = IntrospectionBackend(issuer=issuer.url, client_id=issuer.client_id,
                                   client_secret=issuer.client_secret, audience=AUDIENCE, clock=clock)
    timed = value("resource_guard_introspection_seconds_count")
    assert Guard([backend]).authenticate(make_request(f"Bearer {token}")).principal is not None
    assert value("resource_guard_introspection_seconds_count") - timed == 1
    assert value("resource_guard_introspection_seconds_sum") > 0


def test_no_token_ever_becomes_a_label(issuer: FakeIssuer, clock: FakeClock) -> None:
    secret = "asat_" + uuid.uuid4().hex
    Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock)]).authenticate(
        make_request(f"Bearer {secret}"))
    from prometheus_client import generate_latest

    assert secret not in generate_latest(REGISTRY).decode()


def test_enabling_without_the_extra_says_what_to_install_and_guards_as_before() -> None:
    """prometheus-client missing (blocked in ``sys.modules``): ``enable()`` names the extra,
    metrics stay off, and the guard still decides."""
    program = ("import sys; sys.modules['prometheus_client'] = None; from resource_guard import Guard, metrics; "
               "from resource_guard.backends import BearerJWTBackend; "
               "from tests.resource_guard.rg_testkit import make_request\n"
               "try:\n    metrics.enable()\nexcept ImportError as exc:\n    print(exc)\n"
               "guard = Guard([BearerJWTBackend(issuer='https://issuer.example', audience='a')])\n"
               "assert guard.authenticate(make_request('Bearer x')).error and not metrics.enabled()")
    done = subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == ("resource_guard.metrics needs prometheus-client: "
                                   "pip install 'resource-guard[prometheus]'")
