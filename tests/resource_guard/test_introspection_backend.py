"""IntrospectionBackend against a real HTTP server: answers, caching, shared Redis, outages."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from resource_guard import AuthResult, Expiry, Guard
from resource_guard.backends import ANY_AUDIENCE, BearerJWTBackend, IntrospectionBackend
from resource_guard.cache import MemoryCache, RedisCache
from resource_guard.claims import MAX_NUMERIC_DATE
from tests.resource_guard.rg_testkit import (
    AUDIENCE,
    FakeClock,
    FakeIssuer,
    make_request,
    start_issuer,
)


def backend_for(issuer: FakeIssuer, clock: FakeClock, **options: Any) -> IntrospectionBackend:
    options.setdefault("audience", AUDIENCE)
    return IntrospectionBackend(issuer=issuer.url, client_id=issuer.client_id,
                                client_secret=issuer.client_secret, clock=clock, **options)


def check(backend: IntrospectionBackend, token: str, **requirement: Any) -> AuthResult:
    guard = Guard([backend])
    return guard.check(make_request(f"Bearer {token}"), guard.requirement(**requirement))


def active(clock: FakeClock, **extra: Any) -> dict[str, Any]:
    answer = {"active": True, "sub": "user-9", "client_id": "client-9",
              "scope": "reports:read", "exp": int(clock.now) + 600,
              "aud": "https://api.example", "jti": "jti-9", "token_type": "Bearer"}
    answer.update(extra)
    return {k: v for k, v in answer.items() if v is not None}


@pytest.fixture
def token(issuer: FakeIssuer, clock: FakeClock) -> str:
    value = "asat_" + uuid.uuid4().hex
    issuer.introspection[value] = active(clock, iss=issuer.url)
    return value


@pytest.fixture
def redis_cache() -> Iterator[RedisCache]:
    prefix = f"rg-test:{uuid.uuid4().hex}:"
    cache = RedisCache("redis://127.0.0.1:6379/0", prefix=prefix)
    yield cache
    client = cache._redis
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


def test_active_token_yields_a_principal(issuer: FakeIssuer, clock: FakeClock,
                                         token: str) -> None:
    result = check(backend_for(issuer, clock), token, scopes=["reports:read"])
    p = result.principal
    assert p is not None
    assert (p.subject, p.client_id, p.backend) == ("user-9", "client-9", "introspection")
    assert p.scopes == frozenset({"reports:read"})
    assert p.audience == ("https://api.example",) and p.token_id == "jti-9"
    assert p.expiry is Expiry.TOKEN_EXP and p.expires_at is not None
    assert p.claims["token_type"] == "Bearer"


def test_authenticates_with_client_secret_basic(issuer: FakeIssuer, clock: FakeClock,
                                                token: str) -> None:
    check(backend_for(issuer, clock), token)
    # id and secret are form-urlencoded before base64 (RFC 6749 §2.3.1): the server decoded
    # them (it answered 200, so the header matched) despite the space, slash and colon.
    assert issuer.hits["/introspect"] == 1 and issuer.seen_auth[0].startswith("Basic ")


def test_inactive_token_is_invalid(issuer: FakeIssuer, clock: FakeClock) -> None:
    result = check(backend_for(issuer, clock), "asat_unknown")
    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["WWW-Authenticate"]


def test_insufficient_scope(issuer: FakeIssuer, clock: FakeClock, token: str) -> None:
    result = check(backend_for(issuer, clock), token, resource="reports")
    assert result.ok
    guard = Guard([backend_for(issuer, clock)])
    refused = guard.check(make_request(f"Bearer {token}", method="DELETE"),
                          guard.requirement(resource="reports"))
    assert refused.status == 403 and 'scope="reports:destroy"' in \
        refused.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("extra", "reason"), [
    ({"iss": "https://other-issuer"}, "trusted issuer"),
    ({"exp": 1}, "expired"),
    ({"token_type": "refresh_token"}, "refresh token"),
    ({"scope": ["a"]}, "scope"),
    ({"policy": "GET"}, "policy"),
])
def test_active_answers_that_are_still_refused(issuer: FakeIssuer, clock: FakeClock,
                                               extra: dict[str, Any], reason: str) -> None:
    issuer.introspection["t"] = active(clock, **extra)
    result = check(backend_for(issuer, clock), "t")
    assert result.status == 401 and result.error is not None
    assert reason in result.error.description


# --- the audience is mandatory, as for JWTs ------------------------------------------------------

@pytest.mark.parametrize("aud", ["https://other.example", ["https://a", "https://b"], None, [],
                                 [AUDIENCE, 5], [AUDIENCE, {"x": 1}], {"aud": AUDIENCE}, 7, True])
def test_an_opaque_token_not_for_this_audience_is_refused(issuer: FakeIssuer, clock: FakeClock,
                                                          aud: Any) -> None:
    issuer.introspection["t"] = active(clock, aud=aud)
    result = check(backend_for(issuer, clock), "t")
    assert result.status == 401 and 'error="invalid_token"' in result.headers["WWW-Authenticate"]


def test_an_audience_list_naming_ours_is_accepted(issuer: FakeIssuer, clock: FakeClock) -> None:
    issuer.introspection["t"] = active(clock, aud=["https://other.example", AUDIENCE])
    result = check(backend_for(issuer, clock), "t")
    assert result.principal is not None
    assert result.principal.audience == ("https://other.example", AUDIENCE)


def test_jwt_and_opaque_tokens_for_another_audience_get_the_same_answer(
        issuer: FakeIssuer, clock: FakeClock) -> None:
    """The issue: an opaque token for https://other.example was accepted where a JWT for the
    same audience was refused."""
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock),
                   backend_for(issuer, clock)])
    issuer.introspection["opaque-other"] = active(clock, aud="https://other.example")
    issuer.introspection["opaque-ours"] = active(clock)
    jwt_other = issuer.sign({"aud": "https://other.example"}, now=clock.now)
    statuses = {name: guard.check(make_request(f"Bearer {value}"), guard.requirement()).status
                for name, value in [("jwt-ours", issuer.sign(now=clock.now)), ("jwt-other", jwt_other),
                                    ("opaque-ours", "opaque-ours"), ("opaque-other", "opaque-other")]}
    assert statuses == {"jwt-ours": 200, "jwt-other": 401, "opaque-ours": 200, "opaque-other": 401}


def test_a_backend_without_an_audience_cannot_be_built(issuer: FakeIssuer) -> None:
    with pytest.raises(TypeError, match="audience"):
        IntrospectionBackend(issuer.url, issuer.client_id, issuer.client_secret)  # type: ignore[call-arg]
    for audience in (None, "", [], [""]):
        with pytest.raises(ValueError, match=r"needs audience=.*ANY_AUDIENCE"):
            IntrospectionBackend(issuer.url, issuer.client_id, issuer.client_secret,
                                 audience=audience)  # type: ignore[arg-type]


def test_any_audience_is_an_explicit_opt_out(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, audience=ANY_AUDIENCE)
    for value, aud in (("other", "https://other.example"), ("none", None), ("bad", [5])):
        issuer.introspection[value] = active(clock, aud=aud)
    assert check(backend, "other").ok and check(backend, "none").ok
    assert check(backend, "bad").status == 401  # a malformed aud is still refused


# --- dates and numbers in the answer -------------------------------------------------------------

@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e300, 10**30, True,
                                   "9999999999", 9999999999.5, -1, MAX_NUMERIC_DATE + 1, None])
@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_numeric_dates_must_be_whole_finite_seconds(issuer: FakeIssuer, clock: FakeClock,
                                                    name: str, value: Any) -> None:
    answer = active(clock)
    answer[name] = value  # the fake server writes NaN/Infinity as json.dumps does
    issuer.introspection["t"] = answer
    backend = backend_for(issuer, clock)
    for _ in range(2):  # and nothing was cached as valid
        result = check(backend, "t")
        assert result.status == 401 and 'error="invalid_token"' in result.headers["WWW-Authenticate"]


def test_an_answer_with_nan_anywhere_is_refused(issuer: FakeIssuer, clock: FakeClock) -> None:
    issuer.introspection["t"] = active(clock, extra=float("nan"))
    assert check(backend_for(issuer, clock), "t").status == 401


def test_not_yet_valid_is_refused(issuer: FakeIssuer, clock: FakeClock) -> None:
    issuer.introspection["t"] = active(clock, nbf=int(clock.now) + 60)
    assert check(backend_for(issuer, clock), "t").status == 401


@pytest.mark.parametrize(("name", "value"), [("sub", 5), ("client_id", ["c"]), ("jti", {}),
                                              ("username", False), ("token_type", 1)])
def test_fields_of_the_wrong_type_are_refused(issuer: FakeIssuer, clock: FakeClock, name: str,
                                              value: Any) -> None:
    issuer.introspection["t"] = active(clock, **{name: value})
    assert check(backend_for(issuer, clock), "t").status == 401


def test_policy_field_is_enforced(issuer: FakeIssuer, clock: FakeClock) -> None:
    issuer.introspection["t"] = active(clock, scope=None, policy={
        "resources": {"*": {"allow": ["GET"], "block": ["*"]}}})
    backend = backend_for(issuer, clock)
    guard = Guard([backend])
    assert guard.check(make_request("Bearer t"), guard.requirement()).ok
    refused = guard.check(make_request("Bearer t", method="PUT"), guard.requirement())
    assert refused.status == 403


def test_positive_answers_are_cached_until_the_max_ttl(issuer: FakeIssuer, clock: FakeClock,
                                                       token: str) -> None:
    backend = backend_for(issuer, clock, max_cache_ttl=120)
    for _ in range(5):
        assert check(backend, token).ok
    assert issuer.hits["/introspect"] == 1
    clock.advance(119)
    assert check(backend, token).ok
    assert issuer.hits["/introspect"] == 1
    clock.advance(2)
    assert check(backend, token).ok
    assert issuer.hits["/introspect"] == 2


def test_positive_answers_are_never_cached_past_exp(issuer: FakeIssuer, clock: FakeClock
                                                    ) -> None:
    issuer.introspection["t"] = active(clock, exp=int(clock.now) + 30)
    backend = backend_for(issuer, clock, max_cache_ttl=300)
    assert check(backend, "t").ok
    clock.advance(31)
    # The server now says inactive; the cache must not have kept the old answer.
    issuer.introspection["t"] = {"active": False}
    assert check(backend, "t").status == 401
    assert issuer.hits["/introspect"] == 2


def test_revocation_is_seen_when_the_cache_entry_expires(issuer: FakeIssuer, clock: FakeClock,
                                                         token: str) -> None:
    backend = backend_for(issuer, clock, max_cache_ttl=60)
    assert check(backend, token).ok
    issuer.introspection.pop(token)  # revoked
    assert check(backend, token).ok  # still within the documented cache window
    clock.advance(61)
    assert check(backend, token).status == 401


def test_negative_answers_are_cached_briefly(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = backend_for(issuer, clock, negative_cache_ttl=5)
    for _ in range(3):
        assert check(backend, "asat_nope").status == 401
    assert issuer.hits["/introspect"] == 1
    clock.advance(6)
    issuer.introspection["asat_nope"] = active(clock)
    assert check(backend, "asat_nope").ok
    assert issuer.hits["/introspect"] == 2


def test_cache_keys_are_hashes(issuer: FakeIssuer, clock: FakeClock, token: str) -> None:
    cache = MemoryCache(clock=clock)
    check(backend_for(issuer, clock, cache=cache), token)
    (key,) = list(cache._entries)
    assert token not in key
    assert key.endswith(hashlib.sha256(token.encode()).hexdigest())


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_503_with_retry_after(issuer: FakeIssuer, clock: FakeClock,
                                                token: str, status: int) -> None:
    issuer.introspection_status = status
    result = check(backend_for(issuer, clock, retry_after=12), token)
    assert result.status == 503
    assert result.headers["Retry-After"] == "12"
    assert result.error is not None and result.error.code == "temporarily_unavailable"
    assert "WWW-Authenticate" not in result.headers


def test_outage_is_not_cached(issuer: FakeIssuer, clock: FakeClock, token: str) -> None:
    backend = backend_for(issuer, clock)
    issuer.introspection_status = 500
    assert check(backend, token).status == 503
    issuer.introspection_status = 200
    assert check(backend, token).ok


def test_wrong_client_credentials_are_503_not_invalid_token(issuer: FakeIssuer,
                                                            clock: FakeClock,
                                                            token: str) -> None:
    backend = IntrospectionBackend(issuer=issuer.url, client_id=issuer.client_id,
                                   client_secret="wrong", audience=AUDIENCE, clock=clock)
    assert check(backend, token).status == 503


def test_unreachable_server_is_503(clock: FakeClock) -> None:
    state, server = start_issuer()
    backend = backend_for(state, clock)
    state.introspection["t"] = active(clock)
    assert check(backend, "t").ok  # metadata and endpoint now known
    server.shutdown()
    server.server_close()
    result = check(backend, "other-token")
    assert result.status == 503 and "Retry-After" in result.headers
    assert check(backend, "t").ok  # a cached positive answer still serves


def test_timeout_is_503(issuer: FakeIssuer, clock: FakeClock, token: str) -> None:
    backend = backend_for(issuer, clock, timeout=(1.0, 0.2))
    assert check(backend, "warm-up").status == 401  # metadata fetched
    issuer.introspection_delay = 0.5
    assert check(backend, token).status == 503


def test_metadata_unavailable_is_503(issuer: FakeIssuer, clock: FakeClock, token: str) -> None:
    issuer.metadata_status = 500
    assert check(backend_for(issuer, clock), token).status == 503
    # A configured endpoint needs no metadata.
    direct = backend_for(issuer, clock, introspection_endpoint=issuer.url + "/introspect")
    assert check(direct, token).ok


def test_redis_cache_is_shared_between_workers(issuer: FakeIssuer, clock: FakeClock,
                                               token: str, redis_cache: RedisCache) -> None:
    worker_a = backend_for(issuer, clock, cache=redis_cache)
    worker_b = backend_for(issuer, clock, cache=redis_cache)
    assert check(worker_a, token).ok
    result = check(worker_b, token)
    assert result.principal is not None and result.principal.subject == "user-9"
    assert issuer.hits["/introspect"] == 1
    keys = [k.decode() for k in redis_cache._redis.scan_iter(redis_cache.prefix + "*")]
    assert keys and all(token not in key for key in keys)
    ttl = redis_cache._redis.pttl(keys[0])
    assert 0 < ttl <= 300_000


def test_redis_down_degrades_to_asking_the_server(issuer: FakeIssuer, clock: FakeClock,
                                                  token: str) -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", socket_timeout=0.2)
    backend = backend_for(issuer, clock, cache=cache)
    assert check(backend, token).ok
    assert check(backend, token).ok
    assert issuer.hits["/introspect"] == 2
