"""Property-based attacks on the guard's parsing, through the Flask adapter.

Whatever arrives (any ``Authorization`` header, a correctly signed JWT whose header and claims
hold values of any JSON type, an introspection answer of any shape), the answer is an RFC 6750
refusal or an accept, never an exception or a 500, and an accept happens exactly when the token
is valid by the rules stated here, independently of the code under test. A token's policy of
any shape is decided without error, and a malformed one denies. The autouse
``pyjwt_agrees`` fixture also has PyJWT judge every JWT these tests send.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from resource_guard.backends import (
    APITokenBackend,
    BasicAuthBackend,
    BearerJWTBackend,
    IntrospectionBackend,
)
from resource_guard.claims import MAX_NUMERIC_DATE
from resource_guard.flask import FlaskGuard
from resource_guard.policy import policy_allows, policy_problems
from tests.resource_guard.rg_testkit import (
    AUDIENCE,
    FakeClock,
    FakeIssuer,
    MemoryStore,
    Users,
    sign_es256,
)

LEEWAY = 30
#: Bounded examples; no deadline or speed health check (the machine may be busy: slowness is
#: not what these tests are about).
PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ABSENT = object()
REFUSALS = {"invalid_request", "invalid_token", "invalid_credentials", "authentication_required"}

#: Any JSON value, NaN and Infinity included (the fake issuer and the signer write them as
#: Python's json module does), and integers well past a 64-bit range.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)


@pytest.fixture
def client(issuer: FakeIssuer, clock: FakeClock) -> Iterator[FlaskClient]:
    """A Flask app behind all four backends; ``GET /r`` answers the principal's subject."""
    guard = FlaskGuard(backends=[
        BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock, leeway=LEEWAY),
        IntrospectionBackend(issuer.url, issuer.client_id, issuer.client_secret, audience=AUDIENCE,
                             clock=clock),
        APITokenBackend(store=MemoryStore(), clock=clock),
        BasicAuthBackend(verifier=Users(), clock=clock, max_failures=10**6),
    ])
    app = Flask(__name__)
    guard.init_app(app)

    @app.get("/r")
    @guard.require()
    def r() -> Any:
        return jsonify(subject=guard.principal.subject if guard.principal else None)

    yield app.test_client()


def answer_of(client: FlaskClient, authorization: str) -> tuple[int, dict[str, Any]]:
    response = client.get("/r", headers={"Authorization": authorization})
    assert response.status_code < 500 or response.status_code == 503, response.data
    body = response.get_json()
    assert isinstance(body, dict), response.data
    if response.status_code != 200:
        assert body["error"] in REFUSALS | {"temporarily_unavailable"}, body
    return response.status_code, body


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    return False


def is_date(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_NUMERIC_DATE


def names_us(aud: Any) -> bool:
    return aud == AUDIENCE or (isinstance(aud, list) and all(isinstance(a, str) for a in aud)
                               and AUDIENCE in aud)


def present(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not ABSENT}


# --- Authorization headers ----------------------------------------------------------------------

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
authorizations = st.one_of(
    header_text,
    st.tuples(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "token", "Token", "Digest"]),
              st.sampled_from([" ", "  ", "\t", ""]), header_text).map("".join),
    st.binary(max_size=40).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    st.lists(st.text("ABCxyz0123456789-_=+/.!", max_size=20), min_size=1, max_size=5).map(
        lambda parts: "Bearer " + ".".join(parts)),
)


@PROPERTY
@given(authorization=authorizations)
def test_any_authorization_header_is_refused_in_rfc_terms(client: FlaskClient,
                                                          authorization: str) -> None:
    status, body = answer_of(client, authorization)
    assert status in (400, 401), body


# --- JWTs: correctly signed, with anything in the header and claims ---------------------------

def jwt_is_valid(header: dict[str, Any], claims: dict[str, Any], kid: str, iss: str,
                 now: float) -> bool:
    """RFC 8725 / RFC 9068 §4 as this test states them."""
    typ = header.get("typ")
    if (has_non_finite(header) or has_non_finite(claims) or header.get("alg") != "ES256"
            or not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt")
            or header.get("kid", kid) != kid
            or any(name in header for name in ("jku", "x5u", "jwk", "x5c", "crit"))):
        return False
    if not {"iss", "exp", "aud", "sub", "client_id", "iat", "jti"} <= claims.keys():
        return False
    dates_ok = (all(is_date(claims[n]) for n in ("exp", "iat") if n in claims)
                and ("nbf" not in claims or is_date(claims["nbf"])))
    return (dates_ok and claims["iss"] == iss and claims["exp"] > now - LEEWAY
            and claims["iat"] <= now + LEEWAY and claims.get("nbf", 0) <= now + LEEWAY
            and names_us(claims["aud"])
            and all(isinstance(claims[n], str) for n in ("sub", "client_id", "jti"))
            and isinstance(claims.get("scope", ""), str))


def corrupted(data: st.DataObject, valid: dict[str, Any],
              bad: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """``valid`` with a few fields (often none, so acceptance is tested too) replaced by a
    value from ``bad`` or left out."""
    chosen = data.draw(st.just(set()) | st.sets(st.sampled_from(sorted(bad)), min_size=1, max_size=3))
    fields = {**valid, **{name: data.draw(st.just(ABSENT) | bad[name]) for name in chosen}}
    return present(fields)


@PROPERTY
@given(data=st.data())
def test_signed_jwts_with_fields_of_any_type(client: FlaskClient, issuer: FakeIssuer,
                                             clock: FakeClock, data: st.DataObject) -> None:
    key = issuer.keys[0]
    now = int(clock.now)
    around_now = st.integers(now - 2 * LEEWAY, now + 2 * LEEWAY)
    header = corrupted(data, {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, {
        "alg": st.sampled_from(["none", "None", "HS256", "RS256", "es256"]) | json_values,
        "typ": st.sampled_from(["JWT", "application/at+jwt", "AT+JWT"]) | json_values,
        "kid": json_values, "jku": st.just("https://evil.example/jwks"),
        "crit": st.just(["exp"]) | json_values})
    claims = corrupted(data, {  # a valid token, itself drawn: hypothesis never repeats an example
        "iss": issuer.url, "sub": "user-1", "client_id": data.draw(st.text(max_size=10)),
        "aud": data.draw(st.sampled_from([AUDIENCE, [AUDIENCE], ["https://other.example", AUDIENCE]])),
        "jti": data.draw(st.text(max_size=10)), "scope": data.draw(st.text(" abc:", max_size=12)),
        "exp": data.draw(st.integers(now - LEEWAY + 1, now + 3600)),
        "iat": data.draw(st.integers(now - 3600, now + LEEWAY))}, {
        "iss": st.just(issuer.url + "/") | json_values, "sub": json_values,
        "aud": st.sampled_from([[AUDIENCE, 5], ["https://other.example"], [AUDIENCE]]) | json_values,
        "client_id": json_values, "jti": json_values, "scope": json_values,
        "exp": around_now | st.sampled_from([float(now + 300), 10**300, MAX_NUMERIC_DATE]) | json_values,
        "iat": around_now | json_values, "nbf": around_now | json_values})
    status, body = answer_of(client, "Bearer " + sign_es256(header, claims, key.private))
    valid = jwt_is_valid(header, claims, key.kid, issuer.url, clock.now)
    event(f"valid: {valid}")
    if valid:
        assert status == 200 and body == {"subject": claims["sub"]}
    else:
        assert status == 401 and body["error"] == "invalid_token", body


@PROPERTY
@given(segments=st.lists(st.one_of(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=40),
    json_values.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()),
    st.binary(max_size=30).map(lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()),
), min_size=3, max_size=3))
def test_garbage_jwt_segments_are_invalid_tokens(client: FlaskClient, segments: list[str]) -> None:
    status, body = answer_of(client, "Bearer " + ".".join(segments))
    assert status == 401 and body["error"] == "invalid_token", body


# --- introspection answers of any shape -------------------------------------------------------

def answer_is_valid(answer: dict[str, Any], iss: str, now: float) -> bool:
    """RFC 7662 §2.2 as this test states it: fields but ``active`` optional, well-formed if there."""
    if has_non_finite(answer) or answer.get("active") is not True:
        return False
    if not all(is_date(answer[n]) for n in ("exp", "nbf", "iat") if n in answer):
        return False
    return (answer.get("exp", now + 1) > now and answer.get("nbf", 0) <= now
            and answer.get("iss", iss) == iss and answer.get("token_type") != "refresh_token"
            and names_us(answer.get("aud"))
            and all(isinstance(answer[n], str)
                    for n in ("sub", "username", "client_id", "jti", "token_type", "scope")
                    if n in answer))


@settings(PROPERTY, max_examples=60)  # each example is an HTTP round trip to the issuer
@given(data=st.data())
def test_introspection_answers_of_any_shape(client: FlaskClient, issuer: FakeIssuer,
                                            clock: FakeClock, data: st.DataObject) -> None:
    now = int(clock.now)
    around_now = st.integers(now - 100, now + 100)
    answer = corrupted(data, {  # a valid answer, itself drawn: hypothesis never repeats an example
        "active": True, "sub": data.draw(st.text(max_size=10)), "client_id": "client-9",
        "scope": data.draw(st.text(" abc:", max_size=12)), "iss": issuer.url, "jti": "jti-9",
        "aud": data.draw(st.sampled_from([AUDIENCE, [AUDIENCE], ["https://other.example", AUDIENCE]])),
        "token_type": "Bearer", "exp": data.draw(st.integers(now + 1, now + 3600)), "iat": now}, {
        "active": st.just(False) | json_values, "sub": json_values, "username": json_values,
        "client_id": json_values, "scope": json_values, "iss": json_values, "jti": json_values,
        "aud": st.sampled_from([[AUDIENCE, {"x": 1}], ["https://other.example", AUDIENCE]]) | json_values,
        "token_type": st.just("refresh_token") | json_values,
        "exp": around_now | json_values, "nbf": around_now | json_values, "iat": around_now | json_values})
    token = "opaque-" + uuid.uuid4().hex
    issuer.introspection[token] = answer
    status, body = answer_of(client, f"Bearer {token}")
    valid = answer_is_valid(answer, issuer.url, clock.now)
    event(f"valid: {valid}")
    if valid:
        assert status == 200 and body["subject"] == (answer.get("sub") or answer.get("username") or "")
    elif not has_non_finite(answer) and not isinstance(answer.get("active"), bool):
        assert status == 503  # not an introspection answer at all: the server is broken
    else:
        assert status == 401 and body["error"] == "invalid_token", body


# --- policies carried by tokens ----------------------------------------------------------------

methods = st.lists(st.sampled_from(["GET", "get", "POST", "DELETE", "*"]), max_size=3)
sections = st.dictionaries(st.sampled_from(["allow", "block", "deny"]), methods | json_values, max_size=3)
policies = st.one_of(
    st.dictionaries(st.text(max_size=4), json_values, max_size=3),
    st.fixed_dictionaries({"resources": st.dictionaries(
        st.sampled_from(["*", "reports"]),
        st.one_of(sections, st.dictionaries(st.sampled_from(["*", "7", "allow"]), sections | json_values,
                                            max_size=3), json_values),
        max_size=2)}))


@PROPERTY
@given(policy=policies, method=st.sampled_from(["GET", "POST", "DELETE", "PATCH"]),
       resource=st.none() | st.just("reports"), item=st.none() | st.sampled_from(["7", "8"]))
def test_any_policy_document_is_decided_and_a_malformed_one_denies(
        policy: dict[str, Any], method: str, resource: str | None, item: str | None) -> None:
    allowed = policy_allows(policy, method, resource, item)
    assert isinstance(allowed, bool)
    if policy_problems(policy):
        assert allowed is False
