"""PyJWT's public ``jwt.decode`` as a second opinion on every token BearerJWTBackend judges.

The tests' autouse fixture (``conftest.py``) records each verification the backend makes and
asks ``jwt.decode`` about the same token with the same key, algorithms, audience, issuers,
required claims and leeway. The two must agree: a token the backend accepts, PyJWT accepts;
a token the backend refuses for a reason PyJWT also checks (signature, algorithm, dates,
audience, issuer, missing claims), PyJWT refuses for that reason. Where RFC 9068 makes the
backend stricter than a generic JWT library (``typ``, whole-second dates, ``scope``...), only
the backend refuses, and nothing is asserted.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from resource_guard.backends import BearerJWTBackend
from resource_guard.jwks import VerificationKey

#: A fragment of the backend's refusal -> the PyJWT errors that mean the same.
MIRRORED: dict[str, tuple[type[PyJWTError], ...]] = {
    "signature is invalid": (InvalidSignatureError, DecodeError),  # DecodeError: bad padding
    "has expired": (ExpiredSignatureError,),
    "not valid yet": (ImmatureSignatureError,),
    "issued in the future": (ImmatureSignatureError,),
    "not intended for this resource server": (InvalidAudienceError, MissingRequiredClaimError),
    "names no audience": (InvalidAudienceError, MissingRequiredClaimError),
    '"aud" must be': (InvalidAudienceError, MissingRequiredClaimError),  # null is missing to PyJWT
    "lacks required claims": (MissingRequiredClaimError,),
    "does not match its key": (InvalidAlgorithmError,),
    "algorithm is not allowed": (InvalidAlgorithmError,),
    "trusted issuer": (InvalidIssuerError,),
}
#: The refusals PyJWT mirrors only when it checks ``aud`` (not under ANY_AUDIENCE).
AUDIENCE_RULES = frozenset({"not intended for this resource server", "names no audience",
                            '"aud" must be'})


@dataclass(frozen=True)
class Verdict:
    """One token judged twice."""

    token: str
    alg: str | None
    ours: str | None          # None: accepted; else the refusal
    theirs: list[PyJWTError]  # PyJWT's errors (empty: accepted)
    aud_checked: bool = True  # False under ANY_AUDIENCE: PyJWT then ignores "aud" entirely

    @property
    def disagreement(self) -> str | None:
        if self.ours is None:
            return None if not self.theirs else f"accepted, PyJWT refused: {self.theirs!r}"
        mirrored = [errors for fragment, errors in MIRRORED.items() if fragment in self.ours
                    and (self.aud_checked or fragment not in AUDIENCE_RULES)]
        if any(not any(isinstance(e, errors) for e in self.theirs) for errors in mirrored):
            return f"refused ({self.ours}), PyJWT said {self.theirs or 'ok'}"
        return None


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header as sent (PyJWT's own reader refuses unknown ``crit``), or {}."""
    segment = token.split(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


def pyjwt_errors(backend: BearerJWTBackend, token: str, key: VerificationKey,
                 now: float) -> list[PyJWTError]:
    """PyJWT's errors for ``token`` judged as ``backend`` would at time ``now``.

    PyJWT reads the real clock, the backend a test's clock: the offset goes into the leeway,
    once for ``exp`` (earlier) and once for ``nbf``/``iat`` (later), so two decodes.
    """
    skew = now - time.time()
    algorithms = [a for a in key.algorithms
                  if backend.algorithms is None or a in backend.algorithms]
    verify_aud = backend.audiences is not None
    common: dict[str, Any] = {
        "key": key.key, "algorithms": algorithms or ["none-allowed"],
        "audience": sorted(backend.audiences or ()) or None, "issuer": list(backend.issuers)}
    errors: list[PyJWTError] = []
    passes: list[tuple[float, Any]] = [
        (backend.leeway - skew, {"verify_nbf": False, "verify_iat": False}),
        (backend.leeway + skew, {"verify_exp": False})]
    for leeway, options in passes:
        try:
            jwt.decode(token, leeway=leeway, options={
                "require": list(backend.required_claims), "verify_aud": verify_aud, **options},
                **common)
        except PyJWTError as exc:
            errors.append(exc)
    return errors
