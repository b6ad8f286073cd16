"""Every algorithm the guard verifies, judged against PyJWT's public ``jwt.decode``.

The autouse ``pyjwt_agrees`` fixture asks PyJWT about each token BearerJWTBackend judges; these
tests make sure that happens for every algorithm, for good tokens and for forged ones, and that
the verification code stands on public APIs only.
"""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidSignatureError

import resource_guard
from resource_guard import Guard
from resource_guard.backends import BearerJWTBackend
from resource_guard.jws import VERIFIERS
from tests.resource_guard.pyjwt_oracle import Verdict, pyjwt_errors
from tests.resource_guard.rg_testkit import AUDIENCE, FakeClock, FakeIssuer, SigningKey, make_request

_RSA = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
_CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


def signing_key(alg: str, kid: str, which: int = 0) -> SigningKey:
    """A key for ``alg`` whose JWK names ``alg`` (RSA keys are shared: generating is slow)."""
    private: Any
    if alg in _CURVES:
        private = ec.generate_private_key(_CURVES[alg])
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    else:
        private = _RSA[which]
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return SigningKey(kid, private, alg, jwk | {"kid": kid, "use": "sig", "alg": alg})


def refused_for(result: Any, fragment: str) -> bool:
    return result.status == 401 and result.error is not None and fragment in result.error.description


@pytest.mark.parametrize("alg", sorted(VERIFIERS))
def test_every_algorithm_agrees_with_pyjwt(issuer: FakeIssuer, clock: FakeClock, alg: str,
                                           pyjwt_agrees: list[Verdict]) -> None:
    key = signing_key(alg, "k-" + alg)
    issuer.keys = [key]
    guard = Guard([BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock)])

    def check(token: str) -> Any:
        return guard.check(make_request(f"Bearer {token}"), guard.requirement())

    good = issuer.sign(key=key, now=clock.now)
    head, payload, signature = good.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    flipped = base64.urlsafe_b64encode(bytes([raw[0] ^ 1]) + raw[1:]).rstrip(b"=").decode()
    impostor = signing_key(alg, key.kid, which=1)
    assert check(good).ok
    assert refused_for(check(f"{head}.{payload}.{flipped}"), "signature")
    assert refused_for(check(f"{head}.{payload}.{signature[:-4]}"), "signature")
    assert refused_for(check(issuer.sign(key=impostor, now=clock.now)), "signature")
    tampered = jwt.utils.base64url_encode(json.dumps(
        {**jwt.decode(good, options={"verify_signature": False}), "scope": "admin"}).encode()).decode()
    assert refused_for(check(f"{head}.{tampered}.{signature}"), "signature")
    assert refused_for(check(issuer.sign({"exp": int(clock.now) - 60}, key=key, now=clock.now)), "expired")
    assert refused_for(check(issuer.sign({"aud": "https://other.example"}, key=key, now=clock.now)),
                       "not intended")
    judged = [v for v in pyjwt_agrees if v.alg == alg]
    assert [v.ours is None for v in judged] == [True] + [False] * 6
    assert all(v.theirs for v in judged[1:]), "PyJWT refused each forged token too"


def test_the_oracle_notices_a_disagreement(issuer: FakeIssuer, clock: FakeClock) -> None:
    backend = BearerJWTBackend(issuer=issuer.url, audience=AUDIENCE, clock=clock)
    assert Guard([backend]).check(make_request(f"Bearer {issuer.sign(now=clock.now)}"),
                                  Guard.requirement()).ok  # fetches the keys
    forged = issuer.sign(key=SigningKey.generate("EC", issuer.keys[0].kid), now=clock.now)
    (key,) = backend._key_sets[issuer.url]._keys.values()  # type: ignore[union-attr]
    errors = pyjwt_errors(backend, forged, key, clock.now, lenient=True)
    assert errors and isinstance(errors[0], InvalidSignatureError)
    assert Verdict(forged, "ES256", None, errors).disagreement  # had we accepted it
    assert Verdict(forged, "ES256", "The token signature is invalid.", []).disagreement


def _imports(tree: ast.AST) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return found


def test_verification_uses_only_public_library_apis() -> None:
    """No private module or name of PyJWT or cryptography, and no subclass of a PyJWT class:
    their internals move between releases (PyJWT's algorithms module was restructured)."""
    offending = []
    for path in Path(resource_guard.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for module, name in _imports(tree):
            if module.split(".")[0] not in ("jwt", "cryptography"):
                continue
            parts = [*module.split("."), name]
            if any(part.startswith("_") for part in parts) or module == "jwt.algorithms":
                offending.append(f"{path.name}: from {module} import {name}")
        jwt_names = {name for module, name in _imports(tree) if module.startswith("jwt")}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                offending += [f"{path.name}: {node.name} subclasses {b}" for b in bases & jwt_names]
    assert offending == []
