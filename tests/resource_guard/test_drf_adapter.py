"""The DRF adapter through Django's test client: authentication, scope permissions, 401/403
with their RFC 6750 challenges, the user hook, settings errors, and the RFC 9728 view."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from rest_framework.test import APIRequestFactory, force_authenticate

from resource_guard import Guard
from resource_guard.backends import APITokenBackend, BasicAuthBackend, BearerJWTBackend, RemoteUserBackend
from resource_guard.tokens import generate_token
from tests.resource_guard import django_app
from tests.resource_guard.rg_testkit import AUDIENCE, FakeClock, FakeIssuer, FlakyStore, MemoryStore, Users, basic

METADATA = 'resource_metadata="http://testserver/.well-known/oauth-protected-resource/api"'
PROXY = "10.0.0.7"


@dataclass
class Site:
    client: Client
    issuer: FakeIssuer
    store: MemoryStore
    clock: FakeClock

    def bearer(self, scope: str = "reports:read", **claims: Any) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.issuer.sign({"scope": scope, **claims}, now=self.clock.now)}


def build_guard(issuer: FakeIssuer, clock: FakeClock, store: MemoryStore) -> Guard:
    return Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock),
                  APITokenBackend(store=store, clock=clock), BasicAuthBackend(verifier=Users(), clock=clock),
                  RemoteUserBackend(trusted_proxies=[PROXY])])


@pytest.fixture
def site(issuer: FakeIssuer, clock: FakeClock) -> Iterator[Site]:
    store = MemoryStore()
    django_app.guard = build_guard(issuer, clock, store)
    with override_settings(RESOURCE_GUARD="tests.resource_guard.django_app.guard",
                           RESOURCE_GUARD_PROTECTED_RESOURCE="tests.resource_guard.django_app.protected_resource"):
        yield Site(Client(), issuer, store, clock)


def test_bearer_token_with_the_scope_reaches_the_view(site: Site) -> None:
    response = site.client.get("/api/reports", headers=site.bearer())
    assert response.status_code == 200
    assert response.json() == {"user": "user-1", "authenticated": True, "subject": "user-1",
                               "backend": "bearer_jwt", "user_type": "PrincipalUser"}


def test_anonymous_gets_401_naming_the_scope_and_the_metadata(site: Site) -> None:
    response = site.client.get("/api/reports")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Bearer realm="api", scope="reports:read", {METADATA}'
    assert response.json()["error"] == "authentication_required" and response.json()["scope"] == "reports:read"


def test_missing_scope_is_403_with_the_challenge_drf_would_drop(site: Site) -> None:
    response = site.client.get("/api/reports", headers=site.bearer("profile"))
    assert response.status_code == 403
    challenge = response["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="reports:read"' in challenge and METADATA in challenge
    assert response.json()["error"] == "insufficient_scope"


def test_resource_scope_follows_the_method(site: Site) -> None:
    read = site.bearer("items:read")
    assert site.client.get("/api/items", headers=read).status_code == 200
    write = site.client.post("/api/items", headers=read)
    assert write.status_code == 403 and 'scope="items:write"' in write["WWW-Authenticate"]
    destroy = site.client.delete("/api/items/1", headers=site.bearer("items:read items:write"))
    assert destroy.status_code == 403 and 'scope="items:destroy"' in destroy["WWW-Authenticate"]
    assert site.client.delete("/api/items/1", headers=site.bearer("items:destroy")).status_code == 204


@pytest.mark.parametrize("attack", ["forged", "alg none", "expired", "wrong audience", "malformed header"])
def test_bad_bearer_tokens_are_401_invalid_token_not_anonymous(site: Site, attack: str) -> None:
    issuer, key = site.issuer, site.issuer.keys[0]
    good = issuer.sign({"scope": "reports:read"}, now=site.clock.now)
    header = {
        "forged": "Bearer " + good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "alg none": "Bearer " + jwt.encode(jwt.decode(good, options={"verify_signature": False}), None,  # type: ignore[arg-type]
                                           algorithm="none", headers={"kid": key.kid, "typ": "at+jwt"}),
        "expired": "Bearer " + issuer.sign({"scope": "reports:read"}, now=site.clock.now - 3600),
        "wrong audience": "Bearer " + issuer.sign({"scope": "reports:read", "aud": "https://other.example"},
                                                  now=site.clock.now),
        "malformed header": "Bearer two parts",
    }[attack]
    response = site.client.get("/api/reports", headers={"Authorization": header})
    expected = 400 if attack == "malformed header" else 401
    assert response.status_code == expected, response.content
    code = "invalid_request" if attack == "malformed header" else "invalid_token"
    assert f'error="{code}"' in response["WWW-Authenticate"] and METADATA in response["WWW-Authenticate"]
    assert response.json()["error"] == code


def test_token_in_the_query_string_is_refused(site: Site) -> None:
    token = site.bearer()["Authorization"].split()[1]
    response = site.client.get("/api/reports", {"access_token": token})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_api_token_policy_is_enforced_per_method_and_item(site: Site) -> None:
    token = site.store.add(policy={"resources": {"*": {"allow": ["GET"], "block": ["*"]},
                                                 "items": {"2": {"block": ["GET"]}}}})
    auth = {"Authorization": f"token {token}"}
    assert site.client.get("/api/items/1", headers=auth).status_code == 200
    assert site.client.get("/api/items/2", headers=auth).status_code == 403
    assert site.client.post("/api/items", headers=auth).status_code == 403
    assert site.client.get("/api/reports", headers=auth).json()["backend"] == "api_token"


def test_basic_users_are_not_scope_limited_and_failures_are_rate_limited(site: Site) -> None:
    ok = site.client.get("/api/reports", headers={"Authorization": basic("alice", "wonderland")})
    assert ok.status_code == 200 and ok.json()["subject"] == "user:alice"
    statuses = [site.client.get("/api/reports", headers={"Authorization": basic("alice", "guess")}) for _ in range(6)]
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    assert statuses[0]["WWW-Authenticate"].startswith('Basic realm="api", charset="UTF-8"')
    assert 0 < int(statuses[-1]["Retry-After"]) <= 60


def test_remote_user_only_from_the_trusted_proxy(site: Site) -> None:
    trusted = site.client.get("/api/whoami", headers={"Remote-User": "carol"}, REMOTE_ADDR=PROXY)
    assert trusted.status_code == 200 and trusted.json()["backend"] == "remote_user"
    spoofed = site.client.get("/api/whoami", headers={"Remote-User": "carol", "X-Forwarded-For": PROXY},
                              REMOTE_ADDR="192.0.2.9")
    assert spoofed.status_code == 401


def test_is_authenticated_views_keep_drfs_401_with_the_first_challenge(site: Site) -> None:
    response = site.client.get("/api/whoami")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Bearer realm="api", {METADATA}'


def test_an_unreachable_store_is_503_with_retry_after(site: Site, issuer: FakeIssuer, clock: FakeClock) -> None:
    django_app.guard = build_guard(issuer, clock, FlakyStore())
    with override_settings(RESOURCE_GUARD="tests.resource_guard.django_app.guard"):
        response = site.client.get("/api/reports", headers={"Authorization": f"token {generate_token('rgat')}"})
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert int(response["Retry-After"]) > 0


def test_user_hook_maps_principals_to_site_users(site: Site) -> None:
    with override_settings(RESOURCE_GUARD_USER="tests.resource_guard.django_app.site_user"):
        known = site.client.get("/api/reports", headers=site.bearer())
        assert known.status_code == 200 and known.json()["user_type"] == "SiteUser"
        unknown = site.client.get("/api/reports", headers=site.bearer(sub="stranger"))
        retired = site.client.get("/api/reports", headers=site.bearer(sub="retired-7"))
    for response in (unknown, retired):
        assert response.status_code == 401 and 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_failing_user_hook_is_503_with_retry_after_and_a_scrubbed_traceback(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """The site's database is down while mapping the principal: retry later, not a 500."""
    with override_settings(RESOURCE_GUARD_USER="tests.resource_guard.django_app.unreachable_user"):
        response = site.client.get("/api/reports", headers=site.bearer())
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert int(response["Retry-After"]) > 0
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "resource_guard.drf")
    assert "RESOURCE_GUARD_USER failed with ConnectionError" in logged
    assert "unreachable_user" in logged and "Traceback" in logged  # where it failed...
    assert "s3cret-pw" not in caplog.text  # ...but not the message that quotes the password


def test_a_user_signed_in_another_way_has_no_scopes_to_show(site: Site) -> None:
    request = APIRequestFactory().get("/api/reports")
    force_authenticate(request, user=django_app.SiteUser("session-user"))  # type: ignore[arg-type]
    response = django_app.Reports.as_view()(request)
    assert response.status_code == 403


def test_views_without_required_scopes_are_a_configuration_error(site: Site) -> None:
    with pytest.raises(ImproperlyConfigured, match="required_scopes"):
        site.client.get("/api/misconfigured", headers=site.bearer())


@pytest.mark.parametrize(("settings", "message"), [
    ({"RESOURCE_GUARD": None}, "Set RESOURCE_GUARD"),
    ({"RESOURCE_GUARD": "tests.resource_guard.django_app.protected_resource"}, "not a Guard"),
    ({"RESOURCE_GUARD": "tests.resource_guard.nowhere.guard"}, "cannot be imported"),
    ({"RESOURCE_GUARD_PROTECTED_RESOURCE": "tests.resource_guard.django_app.guard"}, "not a ProtectedResource"),
])
def test_settings_mistakes_are_named(site: Site, settings: dict[str, Any], message: str) -> None:
    with override_settings(**settings), pytest.raises(ImproperlyConfigured, match=message):
        site.client.get("/api/reports", headers=site.bearer())


def test_metadata_is_served_at_both_well_known_paths(site: Site) -> None:
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api"):
        response = site.client.get(path)
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert response.json() == django_app.protected_resource.document()
        assert "max-age" in response["Cache-Control"]
    assert site.client.get("/.well-known/oauth-protected-resource/other").status_code == 404
    assert site.client.post("/.well-known/oauth-protected-resource").status_code == 405
    with override_settings(RESOURCE_GUARD_PROTECTED_RESOURCE=None):
        assert site.client.get("/.well-known/oauth-protected-resource").status_code == 404
