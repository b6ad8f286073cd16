"""BearerJWTBackend against a real HTTP issuer: acceptance, every rejection rule, JWKS caching."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from resource_guard import AuthResult, Expiry, Guard
from resource_guard.backends import ANY_AUDIENCE, BearerJWTBackend, IntrospectionBackend
from resource_guard.claims import MAX_NUMERIC_DATE
from resource_guard.strictjson import MAX_DEPTH
from tests.resource_guard.rg_testkit import (
    AUDIENCE,
    FakeClock,
    FakeIssuer,
    SigningKey,
    make_request,
    sign_es256,
    start_issuer,
)


def backend_for(issuer: FakeIssuer, clock: FakeClock, **options: Any) -> BearerJWTBackend:
    options.setdefault("audience", AUDIENCE)
    return BearerJWTBackend(issuer=issuer.url, clock=clock, **options)


def check(backend: BearerJWTBackend, token: str, **requirement: Any) -> AuthResult:
    guard = Guard([backend])
    return guard.check(make_request(f"Bearer {token}"), guard.requirement(**requirement))


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(issuer: FakeIssuer, clock: FakeClock, **extra: Any) -> dict[str, Any]:
    body = {"iss": issuer.url, "sub": "user-1", "aud": AUDIENCE, "client_id": "client-1",
            "iat": int(clock.now), "exp": int(clock.now) + 300, "jti": uuid.uuid4().hex,
            "scope": "reports:read"}
    body.update(extra)
    return body


def assert_invalid_token(result: AuthResult, fragment: str = "") -> None:
    assert result.status == 401, result
    assert 'error="invalid_token"' in result.headers["WWW-Authenticate"]
    assert result.error is not None and fragment in result.error.description


# --- acceptance -------------------------------------------------------------------------

def test_valid_token_yields_a_full_principal(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign({"scope": "reports:read profile"}, now=clock.now)
    result = check(backend_for(issuer, clock), token, scopes=["reports:read"])
    assert result.ok
    p = result.principal
    assert p is not None
    assert p.subject == "user-1" and p.client_id == "client-1"
    assert p.scopes == frozenset({"reports:read", "profile"})
    assert p.audience == (AUDIENCE,) and p.backend == "bearer_jwt"
    assert p.claims["iss"] == issuer.url and p.token_id == p.claims["jti"]
    assert p.expiry is Expiry.TOKEN_EXP
    assert p.expires_at is not None and p.expires_at.timestamp() == int(clock.now) + 300


@pytest.mark.parametrize(("kind", "jwk_alg"), [
    ("RSA", None), ("RSA", "PS256"), ("RSA", "RS512"), ("OKP", None), ("EC", "ES256")])
def test_key_types_and_their_algorithms(issuer: FakeIssuer, clock: FakeClock, kind: str,
                                        jwk_alg: str | None) -> None:
    key = SigningKey.generate(kind, jwk_alg=jwk_alg)
    issuer.keys = [key]
    assert check(backend_for(issuer, clock), issuer.sign(key=key, now=clock.now)).ok


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_typ_variants_accepted(issuer: FakeIssuer, clock: FakeClock, typ: str) -> None:
    token = issuer.sign(headers={"typ": typ}, now=clock.now)
    assert check(backend_for(issuer, clock), token).ok


def test_audience_list_containing_ours(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign({"aud": ["https://other", AUDIENCE]}, now=clock.now)
    assert check(backend_for(issuer, clock), token).ok


def test_token_without_kid_matches_a_single_key_set(issuer: FakeIssuer,
                                                    clock: FakeClock) -> None:
    key = issuer.keys[0]
    token = jwt.encode(claims(issuer, clock), key.private, algorithm="ES256",
                       headers={"typ": "at+jwt"})
    assert check(backend_for(issuer, clock), token).ok


# --- rejections -----------------------------------------------------------------------------

def test_forged_signature(issuer: FakeIssuer, clock: FakeClock) -> None:
    impostor = SigningKey.generate("EC", kid=issuer.keys[0].kid)
    token = issuer.sign(key=impostor, now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token), "signature")


def test_tampered_payload(issuer: FakeIssuer, clock: FakeClock) -> None:
    header, _, signature = issuer.sign(now=clock.now).split(".")
    forged = b64(claims(issuer, clock, scope="admin"))
    assert_invalid_token(check(backend_for(issuer, clock), f"{header}.{forged}.{signature}"))


def test_expired(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign({"exp": int(clock.now) - 31}, now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token), "expired")


def test_expiry_within_leeway_is_accepted(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign({"exp": int(clock.now) - 10}, now=clock.now)
    assert check(backend_for(issuer, clock), token).ok
    strict = backend_for(issuer, clock, leeway=0)
    assert_invalid_token(check(strict, token), "expired")


def test_not_yet_valid(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign({"nbf": int(clock.now) + 120}, now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token), "not valid yet")


def test_issued_in_the_future(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign({"iat": int(clock.now) + 120}, now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token), "future")


def test_wrong_issuer(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign({"iss": issuer.url + "/evil"}, now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token), "trusted issuer")


def test_wrong_audience(issuer: FakeIssuer, clock: FakeClock) -> None:
    for aud in ("https://other.example", ["https://a", "https://b"]):
        token = issuer.sign({"aud": aud}, now=clock.now)
        assert_invalid_token(check(backend_for(issuer, clock), token), "not intended")


@pytest.mark.parametrize("aud", [[AUDIENCE, 5], [AUDIENCE, {"a": 1}], {"aud": AUDIENCE}, 5, None,
                                 True, []])
def test_malformed_audience_is_refused_even_if_ours_is_in_it(issuer: FakeIssuer, clock: FakeClock,
                                                            aud: Any) -> None:
    result = check(backend_for(issuer, clock), issuer.sign({"aud": aud}, now=clock.now))
    assert_invalid_token(result)


# --- the audience is mandatory ------------------------------------------------------------------

@pytest.mark.parametrize("audience", [None, "", [], [""], [AUDIENCE, 5]])
def test_a_backend_without_an_audience_cannot_be_built(issuer: FakeIssuer, audience: Any) -> None:
    with pytest.raises(ValueError, match=r"needs audience=.*ANY_AUDIENCE"):
        BearerJWTBackend(issuer=issuer.url, audience=audience)


def test_any_audience_is_an_explicit_opt_out(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, audience=ANY_AUDIENCE)
    for aud in ("https://other.example", ["https://a", "https://b"]):
        result = check(backend, issuer.sign({"aud": aud}, now=clock.now))
        assert result.principal is not None and result.principal.audience == (
            (aud,) if isinstance(aud, str) else tuple(aud))
    assert_invalid_token(check(backend, issuer.sign({"aud": 5}, now=clock.now)), "aud")
    assert_invalid_token(check(backend, issuer.sign(drop=("aud",), now=clock.now)), "aud")


# --- numeric dates (RFC 7519 §2 NumericDate) ---------------------------------------------------

def sign_text(issuer: FakeIssuer, claims_text: str, headers: dict[str, Any] | None = None) -> str:
    """A correctly signed token whose claims are exactly ``claims_text`` (e.g. holding NaN)."""
    key = issuer.keys[0]
    return jwt.PyJWS().encode(claims_text.encode(), key.private, algorithm=key.alg,
                              headers={"typ": "at+jwt", "kid": key.kid, **(headers or {})})


def claims_text(issuer: FakeIssuer, clock: FakeClock, name: str, literal: str) -> str:
    """The claims of a valid token as JSON text, with claim ``name`` set to ``literal``."""
    return json.dumps(claims(issuer, clock, **{name: "__VALUE__"})).replace('"__VALUE__"', literal)


@pytest.mark.parametrize("literal", [
    "NaN", "Infinity", "-Infinity", "1e400", "1e300", "-1e400", "true", "false", "null",
    '"2099-01-01"', '"9999999999"', "[9999999999]", "{}", str(10**30), str(MAX_NUMERIC_DATE + 1),
    "-5", "9999999999.5", "4102444800.0",
])
@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_numeric_dates_must_be_whole_finite_seconds(issuer: FakeIssuer, clock: FakeClock, name: str,
                                                    literal: str) -> None:
    token = sign_text(issuer, claims_text(issuer, clock, name, literal))
    result = check(backend_for(issuer, clock), token)
    assert_invalid_token(result)  # 401: never a 503 that makes the client retry, never an accept


def test_the_largest_numeric_date_is_accepted(issuer: FakeIssuer, clock: FakeClock) -> None:
    result = check(backend_for(issuer, clock), issuer.sign({"exp": MAX_NUMERIC_DATE}, now=clock.now))
    assert result.principal is not None and result.principal.expires_at is not None
    assert result.principal.expires_at.year == 9999


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_json_with_non_finite_numbers_is_refused_anywhere(issuer: FakeIssuer, clock: FakeClock,
                                                          literal: str) -> None:
    body = claims_text(issuer, clock, "extra", literal)
    assert_invalid_token(check(backend_for(issuer, clock), sign_text(issuer, body)), "well-formed")
    header_nan = sign_text(issuer, json.dumps(claims(issuer, clock)), headers={"x": float("nan")})
    assert_invalid_token(check(backend_for(issuer, clock), header_nan), "well-formed")


def test_alg_none(issuer: FakeIssuer, clock: FakeClock) -> None:
    for alg in ("none", "None", "NONE"):
        header = {"alg": alg, "typ": "at+jwt", "kid": issuer.keys[0].kid}
        token = f"{b64(header)}.{b64(claims(issuer, clock))}."
        assert_invalid_token(check(backend_for(issuer, clock), token), "algorithm")


@pytest.mark.parametrize("kind", ["RSA", "EC"])
def test_hs256_signed_with_the_public_key(issuer: FakeIssuer, clock: FakeClock,
                                          kind: str) -> None:
    key = SigningKey.generate(kind)
    issuer.keys = [key]
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
    signing_input = f"{b64(header)}.{b64(claims(issuer, clock))}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(signature)}"
    assert_invalid_token(check(backend_for(issuer, clock), token), "algorithm")


def test_algorithm_must_match_the_key_type(issuer: FakeIssuer, clock: FakeClock) -> None:
    ec_key = issuer.keys[0]
    rsa_key = SigningKey.generate("RSA")
    # RS256 signature presented under the EC key's kid: the EC key only allows ES256.
    token = jwt.encode(claims(issuer, clock), rsa_key.private, algorithm="RS256",
                       headers={"typ": "at+jwt", "kid": ec_key.kid})
    assert_invalid_token(check(backend_for(issuer, clock), token), "does not match its key")


def test_rsa_key_without_alg_only_allows_rs256(issuer: FakeIssuer, clock: FakeClock) -> None:
    key = SigningKey.generate("RSA")
    issuer.keys = [key]
    token = jwt.encode(claims(issuer, clock), key.private, algorithm="PS256",
                       headers={"typ": "at+jwt", "kid": key.kid})
    assert_invalid_token(check(backend_for(issuer, clock), token), "does not match its key")


def test_ec_alg_must_match_the_curve(issuer: FakeIssuer, clock: FakeClock) -> None:
    key = issuer.keys[0]  # P-256
    header = {"alg": "ES384", "typ": "at+jwt", "kid": key.kid}
    token = f"{b64(header)}.{b64(claims(issuer, clock))}.{b64(b'x' * 96)}"
    assert_invalid_token(check(backend_for(issuer, clock), token), "does not match its key")


def test_jwks_hmac_keys_are_never_used(issuer: FakeIssuer, clock: FakeClock) -> None:
    secret = b"shared-secret-shared-secret-1234"
    issuer.keys = []
    issuer.extra_jwks = [{"kty": "oct", "kid": "h", "k": b64(secret), "alg": "HS256"}]
    token = jwt.encode(claims(issuer, clock), secret, algorithm="HS256",
                       headers={"typ": "at+jwt", "kid": "h"})
    assert_invalid_token(check(backend_for(issuer, clock), token))


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c"])
def test_headers_naming_their_own_key(issuer: FakeIssuer, clock: FakeClock,
                                      name: str) -> None:
    value: Any = {"jwk": issuer.keys[0].jwk, "x5c": ["MIIB"]}.get(name, "https://evil/keys")
    token = issuer.sign(headers={name: value}, now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token), "name their own key")


def test_unknown_crit(issuer: FakeIssuer, clock: FakeClock) -> None:
    token = issuer.sign(headers={"crit": ["exp-ext"], "exp-ext": 1}, now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token), "critical")
    assert check(backend_for(issuer, clock, understood_crit=["exp-ext"]), token).ok


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt2", "", None])
def test_wrong_typ(issuer: FakeIssuer, clock: FakeClock, typ: str | None) -> None:
    key = issuer.keys[0]
    # PyJWT drops the typ header when it is given as None or "".
    token = jwt.encode(claims(issuer, clock), key.private, algorithm="ES256",
                       headers={"kid": key.kid, "typ": typ})
    assert jwt.get_unverified_header(token).get("typ") == (typ or None)
    assert_invalid_token(check(backend_for(issuer, clock), token), "typ")


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "sub", "client_id", "jti", "aud"])
def test_required_claims(issuer: FakeIssuer, clock: FakeClock, missing: str) -> None:
    token = issuer.sign(drop=(missing,), now=clock.now)
    assert_invalid_token(check(backend_for(issuer, clock), token))


@pytest.mark.parametrize("extra", [{"exp": "tomorrow"}, {"exp": True}, {"scope": ["a"]},
                                   {"sub": 5}, {"policy": ["GET"]}])
def test_claims_of_the_wrong_type(issuer: FakeIssuer, clock: FakeClock,
                                  extra: dict[str, Any]) -> None:
    assert_invalid_token(check(backend_for(issuer, clock), issuer.sign(extra, now=clock.now)))


@pytest.mark.parametrize("token", ["a.b.c", "..", "e30.e30.", "eyJ!.e30.e30",
                                   b64(b"[1]") + ".e30.e30"])
def test_garbage_jwts_are_invalid_tokens_not_errors(issuer: FakeIssuer, clock: FakeClock,
                                                     token: str) -> None:
    assert_invalid_token(check(backend_for(issuer, clock), token))


@pytest.mark.parametrize("kid", ["../../../../dev/null", "' OR '1'='1", "k\u0000", "*",
                                 "https://evil.example/key.pem", "a" * 5000])
def test_kid_injection_finds_no_key(issuer: FakeIssuer, clock: FakeClock, kid: str) -> None:
    """RFC 8725 §3.10: the kid is only ever looked up among the issuer's published keys."""
    backend = backend_for(issuer, clock)
    assert check(backend, issuer.sign(now=clock.now)).ok
    attacker = SigningKey.generate("EC", kid=kid)
    for _ in range(3):
        assert_invalid_token(check(backend, issuer.sign(key=attacker, now=clock.now)), "does not publish")
    assert issuer.hits["/jwks"] == 1


@pytest.mark.parametrize("header", [{"kid": None}, {"kid": ["k"]}, {"kid": 5}, {"crit": None},
                                    {"crit": []}, {"crit": [{"a": 1}]}, {"crit": "exp"}])
def test_malformed_kid_and_crit_are_refused(issuer: FakeIssuer, clock: FakeClock,
                                            header: dict[str, Any]) -> None:
    key = issuer.keys[0]  # a key set of one, which a token without a kid would match
    token = sign_es256({"alg": "ES256", "typ": "at+jwt", **header}, claims(issuer, clock), key.private)
    assert_invalid_token(check(backend_for(issuer, clock, understood_crit=["exp"]), token))


def test_unknown_kid(issuer: FakeIssuer, clock: FakeClock) -> None:
    stranger = SigningKey.generate("EC")
    assert_invalid_token(check(backend_for(issuer, clock),
                               issuer.sign(key=stranger, now=clock.now)), "does not publish")


# --- chain position -------------------------------------------------------------------------

def test_opaque_tokens_pass_to_the_next_bearer_backend(issuer: FakeIssuer,
                                                       clock: FakeClock) -> None:
    issuer.introspection["opaque-token"] = {"active": True, "sub": "bob", "scope": "x",
                                            "client_id": "c", "exp": int(clock.now) + 60}
    jwt_backend = backend_for(issuer, clock)
    issuer.introspection["opaque-token"]["aud"] = AUDIENCE
    introspection = IntrospectionBackend(issuer.url, issuer.client_id, issuer.client_secret,
                                         audience=AUDIENCE, clock=clock)
    guard = Guard([jwt_backend, introspection])
    result = guard.check(make_request("Bearer opaque-token"), guard.requirement())
    assert result.principal is not None and result.principal.subject == "bob"
    assert result.principal.backend == "introspection"
    # And an invalid JWT never falls through to introspection.
    bad = issuer.sign({"aud": "elsewhere"}, now=clock.now)
    assert guard.check(make_request(f"Bearer {bad}"), guard.requirement()).status == 401
    assert issuer.hits["/introspect"] == 1


def test_opaque_token_with_no_backend_for_it_is_invalid(issuer: FakeIssuer,
                                                        clock: FakeClock) -> None:
    assert_invalid_token(check(backend_for(issuer, clock), "opaque-token"), "not recognised")


def test_policy_claim_is_enforced(issuer: FakeIssuer, clock: FakeClock) -> None:
    policy = {"resources": {"*": {"allow": ["GET"], "block": ["*"]}}}
    token = issuer.sign({"scope": "reports:read reports:write", "policy": policy},
                        now=clock.now)
    guard = Guard([backend_for(issuer, clock)])
    requirement = guard.requirement(resource="reports")
    assert guard.check(make_request(f"Bearer {token}"), requirement).ok
    refused = guard.check(make_request(f"Bearer {token}", method="POST"), requirement)
    assert refused.status == 403


# --- several issuers --------------------------------------------------------------------------

def test_several_issuers_in_one_backend(issuer: FakeIssuer, clock: FakeClock) -> None:
    other, server = start_issuer()
    try:
        backend = BearerJWTBackend(issuer=[issuer.url, other.url], audience=AUDIENCE,
                                   clock=clock)
        assert check(backend, issuer.sign(now=clock.now)).ok
        assert check(backend, other.sign(now=clock.now)).ok
        # A token claiming one issuer but signed with the other's key is refused.
        crossed = issuer.sign(key=other.keys[0], now=clock.now)
        assert_invalid_token(check(backend, crossed))
    finally:
        server.shutdown()
        server.server_close()


def test_metadata_naming_another_issuer_is_not_trusted(issuer: FakeIssuer,
                                                       clock: FakeClock) -> None:
    issuer.metadata_issuer = "https://impostor.example"
    result = check(backend_for(issuer, clock), issuer.sign(now=clock.now))
    assert result.status == 503 and issuer.hits["/jwks"] == 0


# --- JWKS caching, rotation, outages ----------------------------------------------------------

def test_unknown_kid_flood_causes_bounded_fetches(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, kid_refetch_interval=30)
    assert check(backend, issuer.sign(now=clock.now)).ok
    assert issuer.hits["/jwks"] == 1
    for _ in range(200):  # the key set was just fetched: no refetch at all
        assert_invalid_token(check(backend, issuer.sign(key=SigningKey.generate("EC"),
                                                        now=clock.now)))
    assert issuer.hits["/jwks"] == 1
    clock.advance(31)
    for _ in range(200):
        assert_invalid_token(check(backend, issuer.sign(key=SigningKey.generate("EC"),
                                                        now=clock.now)))
    assert issuer.hits["/jwks"] == 2  # one refetch for the whole flood
    clock.advance(31)
    for _ in range(50):
        assert_invalid_token(check(backend, issuer.sign(key=SigningKey.generate("EC"),
                                                        now=clock.now)))
    assert issuer.hits["/jwks"] == 3
    assert issuer.hits["/.well-known/oauth-authorization-server"] == 1


def test_rotation_new_kid_picked_up_after_one_refetch(issuer: FakeIssuer,
                                                      clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, kid_refetch_interval=10)
    assert check(backend, issuer.sign(now=clock.now)).ok
    new_key = SigningKey.generate("RSA")
    issuer.keys.append(new_key)
    clock.advance(11)
    assert check(backend, issuer.sign(key=new_key, now=clock.now)).ok
    assert issuer.hits["/jwks"] == 2
    # The old key keeps working (it is still published) and nothing else is fetched.
    assert check(backend, issuer.sign(now=clock.now)).ok
    assert check(backend, issuer.sign(key=new_key, now=clock.now)).ok
    assert issuer.hits["/jwks"] == 2


def test_new_kid_within_the_refetch_interval_waits(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, kid_refetch_interval=10)
    assert check(backend, issuer.sign(now=clock.now)).ok
    new_key = SigningKey.generate("EC")
    issuer.keys.append(new_key)
    assert_invalid_token(check(backend, issuer.sign(key=new_key, now=clock.now)))
    assert issuer.hits["/jwks"] == 1


def test_issuer_outage_keeps_serving_with_cached_keys(issuer: FakeIssuer,
                                                      clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, kid_refetch_interval=10)
    assert check(backend, issuer.sign(now=clock.now)).ok
    issuer.jwks_status = 500
    clock.advance(301)  # the key set's max-age=300 has passed
    assert check(backend, issuer.sign(now=clock.now)).ok
    assert issuer.hits["/jwks"] == 2  # tried once, kept the old keys
    for _ in range(20):
        assert check(backend, issuer.sign(now=clock.now)).ok
    assert issuer.hits["/jwks"] == 2  # no hammering during the outage
    clock.advance(11)
    issuer.jwks_status = 200
    assert check(backend, issuer.sign(now=clock.now)).ok
    assert issuer.hits["/jwks"] == 3


def test_outage_before_any_keys_is_503_not_invalid_token(issuer: FakeIssuer,
                                                         clock: FakeClock) -> None:
    issuer.jwks_status = 503
    backend = backend_for(issuer, clock, retry_after=7, kid_refetch_interval=10)
    result = check(backend, issuer.sign(now=clock.now))
    assert result.status == 503 and result.headers["Retry-After"] == "7"
    assert result.error is not None and result.error.code == "temporarily_unavailable"
    for _ in range(5):
        assert check(backend, issuer.sign(now=clock.now)).status == 503
    assert issuer.hits["/jwks"] == 1
    issuer.jwks_status = 200
    clock.advance(10)
    assert check(backend, issuer.sign(now=clock.now)).ok


def test_unreachable_issuer_is_503(clock: FakeClock) -> None:
    dead, server = start_issuer()
    server.shutdown()
    server.server_close()
    backend = BearerJWTBackend(issuer=dead.url, audience=AUDIENCE, clock=clock,
                               timeout=(0.5, 0.5))
    assert check(backend, dead.sign(now=clock.now)).status == 503


@pytest.mark.parametrize(("cache_control", "options", "fresh_until"), [
    ("max-age=600", {}, 600),
    ("max-age=5", {"jwks_min_ttl": 60}, 60),
    ("max-age=999999", {"jwks_max_ttl": 3600}, 3600),
    ("no-store", {"jwks_min_ttl": 45}, 45),
    (None, {"jwks_default_ttl": 120}, 120),
])
def test_key_set_lifetime_follows_cache_control_within_bounds(
        issuer: FakeIssuer, clock: FakeClock, cache_control: str | None,
        options: dict[str, Any], fresh_until: int) -> None:
    issuer.jwks_cache_control = cache_control
    backend = backend_for(issuer, clock, **options)
    start = clock.now
    assert check(backend, issuer.sign(now=clock.now)).ok
    clock.now = start + fresh_until - 1
    assert check(backend, issuer.sign(now=clock.now)).ok
    assert issuer.hits["/jwks"] == 1
    clock.now = start + fresh_until + 1
    assert check(backend, issuer.sign(now=clock.now)).ok
    assert issuer.hits["/jwks"] == 2


def test_removed_key_stops_verifying_after_refresh(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock)
    old = issuer.keys[0]
    assert check(backend, issuer.sign(now=clock.now)).ok
    issuer.keys = [SigningKey.generate("EC")]
    clock.advance(301)
    assert_invalid_token(check(backend, issuer.sign(key=old, now=clock.now)))


# --- the verified-token cache -----------------------------------------------------------------

def test_repeat_requests_are_served_from_the_cache(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock)
    verifications = 0
    real_verify = backend.verify

    def counting_verify(token: str) -> Any:
        nonlocal verifications
        verifications += 1
        return real_verify(token)

    backend.verify = counting_verify  # type: ignore[method-assign]
    token = issuer.sign(now=clock.now)
    first = check(backend, token)
    for _ in range(10):
        again = check(backend, token)
        assert again.principal is first.principal
    assert verifications == 1


def test_cached_token_expires_at_exp(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, leeway=0)
    token = issuer.sign({"exp": int(clock.now) + 60}, now=clock.now)
    assert check(backend, token).ok
    clock.advance(59)
    assert check(backend, token).ok
    clock.advance(2)
    assert_invalid_token(check(backend, token), "expired")


def test_verified_token_cache_is_bounded(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, cache_size=5)
    tokens = [issuer.sign(now=clock.now) for _ in range(20)]
    for token in tokens:
        assert check(backend, token).ok
    assert len(backend._verified) == 5


def test_cache_keys_are_hashes_not_tokens(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock)
    token = issuer.sign(now=clock.now)
    check(backend, token)
    keys = list(backend._verified._entries)
    assert keys == [hashlib.sha256(token.encode()).hexdigest()]


def test_remembered_headers_do_not_skip_the_signature(issuer: FakeIssuer,
                                                      clock: FakeClock) -> None:
    backend = backend_for(issuer, clock)
    genuine = issuer.sign(now=clock.now)
    assert check(backend, genuine).ok  # its JOSE header is now remembered
    header, _, signature = genuine.split(".")
    forged = b64(claims(issuer, clock, scope="admin", sub="mallory"))
    assert_invalid_token(check(backend, f"{header}.{forged}.{signature}"), "signature")
    impostor = SigningKey.generate("EC", kid=issuer.keys[0].kid)
    assert_invalid_token(check(backend, issuer.sign(key=impostor, now=clock.now)), "signature")


# --- key strength (RFC 7518 §3.3, §3.4) ----------------------------------------------------

def _weak_rsa_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key())) | {"kid": kid, "use": "sig"}
    return SigningKey(kid, private, "RS256", jwk)


def test_a_token_signed_by_a_1024_bit_rsa_key_in_the_jwks_is_refused(
        issuer: FakeIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """The issuer publishes the weak key; the backend skips it (logged by kid), so its token fails."""
    weak = _weak_rsa_key("weak-1024")
    issuer.keys.append(weak)
    backend = backend_for(issuer, clock)
    assert_invalid_token(check(backend, issuer.sign(key=weak, now=clock.now)))
    assert "weak-1024" in caplog.text and "key_too_weak" in caplog.text
    assert check(backend, issuer.sign(now=clock.now)).principal is not None  # the strong key still works


def test_an_ec_key_whose_curve_is_not_the_algorithms_is_refused(issuer: FakeIssuer, clock: FakeClock) -> None:
    """A P-256 key advertised for ES384 verifies nothing: not ES384 (wrong curve), not ES256 (wrong alg)."""
    p256 = SigningKey.generate("EC", "p256-as-es384", jwk_alg="ES384")
    issuer.keys.append(p256)
    backend = backend_for(issuer, clock)
    assert_invalid_token(check(backend, issuer.sign(key=p256, alg="ES256", now=clock.now)))
    header = {"alg": "ES384", "typ": "at+jwt", "kid": p256.kid}  # PyJWT will not sign this itself
    assert_invalid_token(check(backend, sign_es256(header, claims(issuer, clock), p256.private)))


def test_claims_nested_past_the_depth_bound_are_an_invalid_token(issuer: FakeIssuer, clock: FakeClock) -> None:
    """``strictjson.MAX_DEPTH`` holds for token segments too: refused as the token's fault."""
    nested: list[Any] = []
    for _ in range(MAX_DEPTH + 1):
        nested = [nested]
    header = {"alg": "ES256", "typ": "at+jwt", "kid": issuer.keys[0].kid}
    token = sign_es256(header, claims(issuer, clock, extra=nested), issuer.keys[0].private)
    assert_invalid_token(check(backend_for(issuer, clock), token))
