"""One scope policy for clients nobody vetted (``registration_policy.ScopeOffer``): what
registration accepts is what a token may carry, and a token for one protected resource never
carries another resource's scope, whether the client named a scope or left it out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from authserver.extensions import db
from authserver.models import ProtectedResource, Scope
from authserver.resources.registry import create_resource

from .authorize_helpers import authorize_url, consent, query_of, refresh, signed_in_flow
from .helpers import basic
from .test_client_documents import claims
from .test_registration import MACHINE_GRANTS, WEB_APP, register

REDIRECT = WEB_APP["redirect_uris"][0]


@dataclass
class Registry:
    """Two APIs, each with its own scope, and a catalogue scope that is no API's."""

    mcp: str
    other: str
    call: str
    admin: str
    published: str


@pytest.fixture
def registry(migrated_app: Flask) -> Iterator[Registry]:
    tag = uuid.uuid4().hex[:8]
    made = Registry(f"https://mcp-{tag}.example/mcp", f"https://other-{tag}.example/api",
                    f"tools:call-{tag}", f"other:admin-{tag}", f"pub:read-{tag}")
    with migrated_app.app_context():
        create_resource(made.mcp, made.call)
        create_resource(made.other, made.admin)
        db.session.add(Scope(name=made.published, description="Read what is public", public=True))
        db.session.commit()
    yield made
    with migrated_app.app_context():  # the offer is every resource's: leave none behind for other tests
        db.session.query(ProtectedResource).filter(ProtectedResource.uri.in_([made.mcp, made.other])).delete()
        db.session.query(Scope).filter(Scope.name == made.published).delete()
        db.session.commit()


def _registered(app: Flask, scope: str, machine: bool = False) -> dict[str, Any]:
    """A web app by default; ``machine``: a confidential client_credentials job."""
    document = {"client_name": "job", "grant_types": ["client_credentials"]} if machine else WEB_APP
    response = register(app, document, scope=scope)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _scope_of(token: dict[str, Any]) -> set[str]:
    assert "access_token" in token, token
    assert set(claims(token["access_token"])["scope"].split()) == set(token["scope"].split())
    return set(token["scope"].split())


def test_an_omitted_scope_gets_only_the_scopes_of_the_resource_asked_for(
        apps, make_user, registry: Registry) -> None:
    """The review's finding: ``scope`` left out fell back to every scope the client holds."""
    app = apps("open")
    client_id = _registered(app, f"openid {registry.call} {registry.admin}")["client_id"]
    flow = signed_in_flow(app, make_user, client_id, redirect_uri=REDIRECT)
    page = flow.http.get(authorize_url(client_id, REDIRECT, flow.challenge, resource=registry.mcp))
    assert registry.call in page.get_data(as_text=True) and registry.admin not in page.get_data(as_text=True)
    token = flow.redeem(flow.code(resource=registry.mcp)).get_json()
    assert _scope_of(token) == {"openid", registry.call}
    assert claims(token["access_token"])["aud"] == registry.mcp


def test_client_credentials_without_scope_gets_only_the_resources_scopes(apps, registry: Registry) -> None:
    app = apps("open", registration_grant_types=MACHINE_GRANTS)
    client = _registered(app, f"{registry.call} {registry.admin}", machine=True)
    auth = basic(client["client_id"], client["client_secret"])
    token = app.test_client().post("/oauth/token", headers=auth,
                                   data={"grant_type": "client_credentials", "resource": registry.mcp}).get_json()
    assert _scope_of(token) == {registry.call}
    named = app.test_client().post("/oauth/token", headers=auth, data={
        "grant_type": "client_credentials", "resource": registry.mcp, "scope": registry.admin})
    assert (named.status_code, named.get_json()["error"]) == (400, "invalid_scope")


def test_a_scope_registration_accepted_is_granted_when_asked_for(apps, make_user, registry: Registry) -> None:
    """A published catalogue scope (and ``registration_scopes``) is no resource's, so any of
    the client's tokens may carry it: registration and the token endpoint agree."""
    app = apps("open", registration_scopes="notes:sync")
    client_id = _registered(app, f"openid {registry.published} notes:sync {registry.call}")["client_id"]
    flow = signed_in_flow(app, make_user, client_id, redirect_uri=REDIRECT)
    own = flow.redeem(flow.code(scope=f"openid {registry.published} notes:sync")).get_json()
    assert _scope_of(own) == {"openid", registry.published, "notes:sync"}
    for_api = flow.redeem(flow.code(scope=f"{registry.published} {registry.call}", resource=registry.mcp)).get_json()
    assert _scope_of(for_api) == {registry.published, registry.call}


def test_a_resources_scope_stays_off_other_resources_tokens_even_when_published(
        apps, make_user, registry: Registry, migrated_app: Flask) -> None:
    with migrated_app.app_context():
        db.session.add(Scope(name=registry.admin, description="Administer the other API", public=True))
        db.session.commit()
    try:
        app = apps("open")
        client_id = _registered(app, f"openid {registry.call} {registry.admin}")["client_id"]
        flow = signed_in_flow(app, make_user, client_id, redirect_uri=REDIRECT)
        asked = flow.http.get(authorize_url(client_id, REDIRECT, flow.challenge, resource=registry.mcp,
                                            scope=f"{registry.call} {registry.admin}", state="s2"))
        assert query_of(asked.headers["Location"])["error"] == "invalid_scope"
        token = flow.redeem(flow.code(resource=registry.mcp)).get_json()
        assert _scope_of(token) == {"openid", registry.call}
    finally:
        with migrated_app.app_context():
            db.session.query(Scope).filter(Scope.name == registry.admin).delete()
            db.session.commit()


def test_narrowing_the_resource_narrows_the_scope_at_the_exchange_and_the_refresh(
        apps, make_user, registry: Registry) -> None:
    app = apps("open")
    client_id = _registered(app, f"openid offline_access {registry.call} {registry.admin}")["client_id"]
    flow = signed_in_flow(app, make_user, client_id, redirect_uri=REDIRECT)
    url = authorize_url(client_id, REDIRECT, flow.challenge) + f"&resource={registry.mcp}&resource={registry.other}"
    code = query_of(consent(flow.http, url).headers["Location"])["code"]
    first = flow.redeem(code, resource=registry.mcp).get_json()
    assert _scope_of(first) == {"openid", "offline_access", registry.call}
    assert "refresh_token" in first

    named = refresh(app, first["refresh_token"], client_id, resource=registry.mcp, scope=registry.admin)
    assert (named.status_code, named.get_json()["error"]) == (400, "invalid_scope")
    # the refused refresh spent nothing
    other = refresh(app, first["refresh_token"], client_id, resource=registry.mcp).get_json()
    assert _scope_of(other) == {"openid", "offline_access", registry.call}


def test_a_resource_offering_none_of_the_clients_scopes_is_invalid_scope(
        apps, make_user, registry: Registry) -> None:
    app = apps("open")
    client_id = _registered(app, registry.admin)["client_id"]
    flow = signed_in_flow(app, make_user, client_id, redirect_uri=REDIRECT)
    asked = flow.http.get(authorize_url(client_id, REDIRECT, flow.challenge, resource=registry.mcp, state="s3"))
    assert asked.status_code == 302, asked.get_data(as_text=True)
    params = query_of(asked.headers["Location"])
    assert (params["error"], params["state"]) == ("invalid_scope", "s3")


def test_a_scope_removed_from_a_resource_leaves_the_next_token(
        apps, make_user, registry: Registry, migrated_app: Flask) -> None:
    """The registry holds at every token request, not at registration alone."""
    app = apps("open", registration_grant_types=MACHINE_GRANTS)
    client = _registered(app, registry.call, machine=True)
    auth = basic(client["client_id"], client["client_secret"])
    form = {"grant_type": "client_credentials", "resource": registry.mcp}
    assert _scope_of(app.test_client().post("/oauth/token", headers=auth, data=form).get_json()) == {registry.call}
    with migrated_app.app_context():
        db.session.query(ProtectedResource).filter(ProtectedResource.uri == registry.mcp).update({"scope": ""})
        db.session.commit()
    answer = app.test_client().post("/oauth/token", headers=auth, data=form)
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_scope")
