"""Cache implementations, RFC 8414 discovery URLs, JWKS parsing and Cache-Control lifetimes."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from resource_guard.cache import MemoryCache, RedisCache
from resource_guard.jwks import cache_lifetime, parse_jwks
from resource_guard.metadata import metadata_url
from tests.resource_guard.rg_testkit import FakeClock, SigningKey


@pytest.fixture
def redis_cache() -> Iterator[RedisCache]:
    cache = RedisCache(prefix=f"rg-test:{uuid.uuid4().hex}:")
    yield cache
    for key in cache._redis.scan_iter(cache.prefix + "*"):
        cache._redis.delete(key)


def test_memory_cache_expiry_follows_the_clock(clock: FakeClock) -> None:
    cache = MemoryCache(clock=clock)
    cache.set("a", {"v": 1}, ttl=10)
    cache.set_until("b", "until", clock.now + 5)
    assert cache.get("a") == {"v": 1} and cache.get("b") == "until"
    clock.advance(5)
    assert cache.get("b") is None and cache.get("a") == {"v": 1}
    clock.advance(5)
    assert cache.get("a") is None and len(cache) == 0


def test_memory_cache_ignores_already_expired_entries(clock: FakeClock) -> None:
    cache = MemoryCache(clock=clock)
    cache.set("a", 1, ttl=0)
    cache.set_until("b", 1, clock.now - 1)
    assert len(cache) == 0


def test_memory_cache_is_a_bounded_lru(clock: FakeClock) -> None:
    cache = MemoryCache(3, clock=clock)
    for key in "abc":
        cache.set(key, key, ttl=60)
    assert cache.get("a") == "a"   # "a" becomes the most recently used
    cache.set("d", "d", ttl=60)    # evicts "b", the least recently used
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == ["a", "c", "d"]
    assert len(cache) == 3


def test_memory_cache_counters(clock: FakeClock) -> None:
    cache = MemoryCache(clock=clock)
    assert cache.count("k") == (0, 0.0)
    assert cache.incr("k", 60) == (1, 60)
    clock.advance(20)
    assert cache.incr("k", 60) == (2, 40)
    assert cache.count("k") == (2, 40)
    clock.advance(41)
    assert cache.count("k") == (0, 0.0)
    assert cache.incr("k", 60) == (1, 60)


def test_redis_cache_round_trip_and_ttl(redis_cache: RedisCache) -> None:
    redis_cache.set("k", {"active": True, "scope": "a b"}, ttl=30)
    assert redis_cache.get("k") == {"active": True, "scope": "a b"}
    assert 0 < redis_cache._redis.pttl(redis_cache.prefix + "k") <= 30_000
    redis_cache.set("gone", 1, ttl=0)
    assert redis_cache.get("gone") is None and redis_cache.get("missing") is None


@pytest.mark.parametrize("when", [float("nan"), float("inf"), float("-inf")])
def test_memory_cache_stores_nothing_until_a_non_finite_time(clock: FakeClock, when: float) -> None:
    cache = MemoryCache(clock=clock)
    cache.set_until("k", 1, when)
    cache.set("j", 1, when)
    assert cache.get("k") is None and cache.get("j") is None and len(cache) == 0


def test_redis_cache_ignores_non_finite_ttls(redis_cache: RedisCache) -> None:
    for ttl in (float("nan"), float("inf"), -1.0):
        redis_cache.set("k", 1, ttl=ttl)
    assert redis_cache.get("k") is None


def test_redis_cache_counters(redis_cache: RedisCache) -> None:
    assert redis_cache.count("c") == (0, 0.0)
    count, remaining = redis_cache.incr("c", 60)
    assert count == 1 and 59 < remaining <= 60
    assert redis_cache.incr("c", 60)[0] == 2
    count, remaining = redis_cache.count("c")
    assert count == 2 and 0 < remaining <= 60


def test_redis_cache_down_is_a_miss_not_an_error() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", socket_timeout=0.2)
    cache.set("k", 1, ttl=10)
    assert cache.get("k") is None
    assert cache.incr("k", 10) == (0, 0.0) and cache.count("k") == (0, 0.0)


@pytest.mark.parametrize(("issuer", "url"), [
    ("https://as.example", "https://as.example/.well-known/oauth-authorization-server"),
    ("https://as.example/", "https://as.example/.well-known/oauth-authorization-server"),
    ("https://as.example/tenant/1",
     "https://as.example/.well-known/oauth-authorization-server/tenant/1"),
])
def test_metadata_url_per_rfc8414(issuer: str, url: str) -> None:
    assert metadata_url(issuer) == url


@pytest.mark.parametrize(("header", "expected"), [
    ("max-age=600", 600), ("public, max-age=600, must-revalidate", 600), ("max-age=1", 60),
    ("max-age=9999999", 86400), ("no-store", 60), ("no-cache, max-age=600", 60),
    (None, 300), ("private", 300), ('max-age="120"', 120),
])
def test_cache_lifetime(header: str | None, expected: float) -> None:
    assert cache_lifetime(header, default=300, minimum=60, maximum=86400) == expected


def test_parse_jwks_keeps_only_signature_keys_with_derived_algorithms() -> None:
    ec, rsa, okp, ps = (SigningKey.generate("EC", "ec"), SigningKey.generate("RSA", "rsa"),
                        SigningKey.generate("OKP", "okp"),
                        SigningKey.generate("RSA", "ps", jwk_alg="PS256"))
    enc = SigningKey.generate("EC", "enc").jwk | {"use": "enc"}
    mismatched = SigningKey.generate("EC", "mismatch").jwk | {"alg": "ES384"}
    no_verify = SigningKey.generate("EC", "nv").jwk | {"key_ops": ["encrypt"]}
    private = SigningKey.generate("EC", "priv").jwk | {"d": "AAAA"}
    keys = parse_jwks({"keys": [ec.jwk, rsa.jwk, okp.jwk, ps.jwk, enc, mismatched, no_verify,
                                private, {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                                {"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AA"},
                                "not a key"]})
    assert {kid: sorted(k.algorithms) for kid, k in keys.items()} == {
        "ec": ["ES256"], "rsa": ["RS256"], "okp": ["EdDSA"], "ps": ["PS256"]}


def _ec_jwk(curve: ec.EllipticCurve, **members: str) -> dict[str, str]:
    jwk: dict[str, str] = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(curve).public_key()))
    return jwk | {"kid": "k", **members}


@pytest.mark.parametrize("jwk", [
    _ec_jwk(ec.SECP256R1(), alg="ES384"),                     # P-256 offered for ES384's P-384
    _ec_jwk(ec.SECP384R1(), alg="ES256"),                     # P-384 offered for ES256's P-256
    _ec_jwk(ec.SECP521R1(), alg="ES384"),
    _ec_jwk(ec.SECP384R1(), crv="P-256"),                     # P-384 points labelled P-256
    _ec_jwk(ec.SECP256K1()),                                  # a curve no algorithm here names
    _ec_jwk(ec.SECP256K1(), alg="ES256K"),
    _ec_jwk(ec.SECP256K1(), alg="ES256", crv="P-256"),        # secp256k1 points labelled P-256
], ids=["p256-es384", "p384-es256", "p521-es384", "p384-as-p256", "secp256k1", "es256k", "k1-as-p256"])
def test_an_ec_key_on_a_curve_its_algorithm_does_not_name_is_skipped(
        jwk: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    """RFC 7518 §3.4: ES256 is P-256, ES384 P-384, ES512 P-521, and nothing else verifies."""
    with caplog.at_level(logging.INFO, "resource_guard.jwks"):
        assert parse_jwks({"keys": [jwk]}) == {}
    assert "Skipping a JWK (kty=EC, kid=k)" in caplog.text


@pytest.mark.parametrize(("curve", "crv", "alg"), [
    (ec.SECP256R1(), "P-256", "ES256"), (ec.SECP384R1(), "P-384", "ES384"), (ec.SECP521R1(), "P-521", "ES512"),
])
def test_ec_keys_verify_what_pyjwt_signs_and_nothing_else(curve: ec.EllipticCurve, crv: str, alg: str) -> None:
    private = ec.generate_private_key(curve)
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key())) | {"kid": "k"}
    assert jwk["crv"] == crv
    key = parse_jwks({"keys": [jwk]})["k"]
    token = pyjwt.encode({"sub": "s"}, private, algorithm=alg)
    head, payload, sig = token.split(".")
    signing_input, signature = f"{head}.{payload}".encode(), base64.urlsafe_b64decode(sig + "==")
    verifier = key.algorithms[alg]
    assert verifier.verify(signing_input, key.key, signature)
    assert not verifier.verify(signing_input + b"x", key.key, signature)
    assert not verifier.verify(signing_input, key.key, signature[:-1])  # wrong length
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verifier.verify(signing_input, key.key, flipped)
    other = ec.generate_private_key(curve).public_key()
    assert not verifier.verify(signing_input, other, signature)
