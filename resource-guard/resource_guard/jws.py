"""JWS signature verification (RFC 7515, RFC 7518 §3, RFC 8037 §3.1) on cryptography's public API.

Each algorithm is one :class:`SignatureVerifier` built once at import, with its padding or
signature scheme ready, so a verification on a cache miss (the guard's hot path) does nothing
but the check itself. A key of the wrong type for the algorithm never verifies anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


class SignatureVerifier(ABC):
    """Verifies signatures of one JWS algorithm (``alg``)."""

    def __init__(self, alg: str) -> None:
        self.alg = alg

    def verify(self, signing_input: bytes, key: Any, signature: bytes) -> bool:
        """Whether ``signature`` over ``signing_input`` is valid for ``key``."""
        if not self.accepts(key):
            return False
        try:
            self._verify(signing_input, key, signature)
        except InvalidSignature:
            return False
        return True

    @abstractmethod
    def accepts(self, key: Any) -> bool:
        """Whether ``key`` is a public key this algorithm signs with."""

    @abstractmethod
    def _verify(self, signing_input: bytes, key: Any, signature: bytes) -> None:
        """Raise InvalidSignature unless the signature is valid."""


class ECDSAVerifier(SignatureVerifier):
    """ES256/384/512: ``r || s`` of fixed size on the algorithm's one curve (RFC 7518 §3.4)."""

    def __init__(self, alg: str, hash_alg: type[hashes.HashAlgorithm],
                 curve: type[ec.EllipticCurve], size: int) -> None:
        super().__init__(alg)
        self._scheme = ec.ECDSA(hash_alg())
        self._curve = curve
        self._size = size  # bytes of r and of s

    def accepts(self, key: Any) -> bool:
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, self._curve)

    def _verify(self, signing_input: bytes, key: Any, signature: bytes) -> None:
        size = self._size
        if len(signature) != 2 * size:
            raise InvalidSignature
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), signing_input, self._scheme)


#: RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms."
MIN_RSA_BITS = 2048


class RSAVerifier(SignatureVerifier):
    """RS* (PKCS #1 v1.5, RFC 7518 §3.3) and PS* (PSS, salt = hash size, §3.5), with a
    modulus of at least :data:`MIN_RSA_BITS`: a 1024-bit key is within reach of a factoring
    budget, and a signature it makes proves nothing."""

    def __init__(self, alg: str, hash_alg: type[hashes.HashAlgorithm], *, pss: bool) -> None:
        super().__init__(alg)
        self._hash = hash_alg()
        self._padding: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hash_alg()), salt_length=self._hash.digest_size)
            if pss else padding.PKCS1v15())

    def accepts(self, key: Any) -> bool:
        return isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS

    def _verify(self, signing_input: bytes, key: Any, signature: bytes) -> None:
        key.verify(signature, signing_input, self._padding, self._hash)


class Ed25519Verifier(SignatureVerifier):
    """EdDSA with an Ed25519 key (RFC 8037 §3.1)."""

    def accepts(self, key: Any) -> bool:
        return isinstance(key, Ed25519PublicKey)

    def _verify(self, signing_input: bytes, key: Any, signature: bytes) -> None:
        key.verify(signature, signing_input)


#: Every algorithm the guard verifies, by ``alg``.
VERIFIERS: dict[str, SignatureVerifier] = {v.alg: v for v in (
    RSAVerifier("RS256", hashes.SHA256, pss=False),
    RSAVerifier("RS384", hashes.SHA384, pss=False),
    RSAVerifier("RS512", hashes.SHA512, pss=False),
    RSAVerifier("PS256", hashes.SHA256, pss=True),
    RSAVerifier("PS384", hashes.SHA384, pss=True),
    RSAVerifier("PS512", hashes.SHA512, pss=True),
    ECDSAVerifier("ES256", hashes.SHA256, ec.SECP256R1, 32),
    ECDSAVerifier("ES384", hashes.SHA384, ec.SECP384R1, 48),
    ECDSAVerifier("ES512", hashes.SHA512, ec.SECP521R1, 66),
    Ed25519Verifier("EdDSA"),
)}
