"""resource_guard.django.require on plain Django views: the same JSON refusals and RFC 6750
headers as the Flask adapter, and ``request.principal`` for the view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from resource_guard import Guard
from resource_guard.backends import APITokenBackend, BearerJWTBackend
from tests.resource_guard import django_app
from tests.resource_guard.rg_testkit import AUDIENCE, FakeClock, FakeIssuer, MemoryStore


@pytest.fixture
def client(issuer: FakeIssuer, clock: FakeClock) -> Iterator[tuple[Client, FakeIssuer, MemoryStore]]:
    store = MemoryStore()
    django_app.guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock),
                              APITokenBackend(store=store, clock=clock)])
    with override_settings(RESOURCE_GUARD="tests.resource_guard.django_app.guard",
                           RESOURCE_GUARD_PROTECTED_RESOURCE=None):
        yield Client(), issuer, store


def _bearer(issuer: FakeIssuer, scope: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + issuer.sign({"scope": scope})}


def test_the_view_sees_the_principal(client: tuple[Client, FakeIssuer, MemoryStore]) -> None:
    c, issuer, _ = client
    response = c.get("/plain/reports", headers=_bearer(issuer, "reports:read"))
    assert response.status_code == 200 and response.json() == {"subject": "user-1"}


def test_refusals_are_json_with_rfc_6750_headers(client: tuple[Client, FakeIssuer, MemoryStore]) -> None:
    c, issuer, _ = client
    anonymous = c.get("/plain/reports")
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json"
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api", scope="reports:read"'
    assert anonymous.json()["error"] == "authentication_required"
    short = c.get("/plain/reports", headers=_bearer(issuer, "profile"))
    assert short.status_code == 403 and 'error="insufficient_scope"' in short["WWW-Authenticate"]
    forged = c.get("/plain/reports", headers={"Authorization": "Bearer " + issuer.sign()[:-3] + "abc"})
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_token"


def test_method_derived_scope_and_item_policy(client: tuple[Client, FakeIssuer, MemoryStore]) -> None:
    c, issuer, store = client
    assert c.get("/plain/items/1", headers=_bearer(issuer, "items:read")).status_code == 200
    deleted = c.delete("/plain/items/1", headers=_bearer(issuer, "items:read"))
    assert deleted.status_code == 403 and 'scope="items:destroy"' in deleted["WWW-Authenticate"]
    token = store.add(policy={"resources": {"items": {"2": {"block": ["*"]}}}})
    assert c.get("/plain/items/1", headers={"Authorization": f"token {token}"}).status_code == 200
    assert c.get("/plain/items/2", headers={"Authorization": f"token {token}"}).status_code == 403


def test_optional_views_admit_anonymous_but_not_bad_credentials(client: tuple[Client, FakeIssuer, MemoryStore]) -> None:
    c, issuer, _ = client
    assert c.get("/plain/public").json() == {"subject": None}
    assert c.get("/plain/public", headers=_bearer(issuer, "")).json() == {"subject": "user-1"}
    assert c.get("/plain/public", headers={"Authorization": "Bearer nonsense"}).status_code == 401
