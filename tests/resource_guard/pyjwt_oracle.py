"""PyJWT's public ``jwt.decode`` as a second opinion on every token BearerJWTBackend judges.

The tests' autouse fixture (``conftest.py``) records each verification the backend makes and
asks ``jwt.decode`` about the same token with the same key, algorithms, audience, issuers,
required claims and leeway. The two must agree: a token the backend accepts, PyJWT accepts;
a token the backend refuses for a reason PyJWT also checks (signature, algorithm, dates,
audience, issuer, missing claims), PyJWT refuses too, and a bad signature is one for both. Where RFC 9068 makes the
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
    InvalidSignatureError,
    PyJWTError,
)

from resource_guard.backends import BearerJWTBackend
from resource_guard.jwks import VerificationKey

#: Refusals for a rule PyJWT checks too: PyJWT must refuse such a token as well (possibly
#: naming another of its defects first: the two check in different orders).
MIRRORED = ("signature is invalid", "has expired", "not valid yet", "issued in the future",
            "not intended for this resource server", "names no audience", '"aud" must be',
            "lacks required claims", "does not match its key", "algorithm is not allowed",
            "trusted issuer")
#: Both check the signature right after the header, so a bad one is reported as such by both.
SIGNATURE_ERRORS = (InvalidSignatureError, DecodeError)  # DecodeError: a segment that is not base64
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
        if "signature is invalid" in self.ours and not any(
                isinstance(e, SIGNATURE_ERRORS) for e in self.theirs):
            return f"refused ({self.ours}), PyJWT said {self.theirs or 'ok'}"
        mirrored = any(fragment in self.ours for fragment in MIRRORED
                       if self.aud_checked or fragment not in AUDIENCE_RULES)
        return f"refused ({self.ours}), PyJWT accepted" if mirrored and not self.theirs else None


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header as sent (PyJWT's own reader refuses unknown ``crit``), or {}."""
    segment = token.split(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


#: Seconds the oracle's dates may be off: PyJWT reads the real clock a moment after the offset
#: to the test's clock is taken. Dates are whole seconds, so half a second hides no real rule.
CLOCK_MARGIN = 0.5


def pyjwt_errors(backend: BearerJWTBackend, token: str, key: VerificationKey, now: float, *,
                 lenient: bool) -> list[PyJWTError]:
    """PyJWT's errors for ``token`` judged as ``backend`` would at time ``now``.

    PyJWT reads the real clock, the backend a test's clock: the offset goes into the leeway,
    once for ``exp`` (earlier) and once for ``nbf``/``iat`` (later), so two decodes. ``lenient``
    widens the leeway by :data:`CLOCK_MARGIN` (to confirm an accept), else narrows it (to
    confirm a refusal), so the moment between the two clock reads never decides.
    """
    skew = now - time.time()
    margin = CLOCK_MARGIN if lenient else -CLOCK_MARGIN
    algorithms = [a for a in key.algorithms
                  if backend.algorithms is None or a in backend.algorithms]
    verify_aud = backend.audiences is not None
    common: dict[str, Any] = {
        "key": key.key, "algorithms": algorithms or ["none-allowed"],
        "audience": sorted(backend.audiences or ()) or None, "issuer": list(backend.issuers)}
    errors: list[PyJWTError] = []
    passes: list[tuple[float, Any]] = [
        (backend.leeway - skew + margin, {"verify_nbf": False, "verify_iat": False}),
        (backend.leeway + skew + margin, {"verify_exp": False})]
    for leeway, options in passes:
        merged: Any = {"require": list(backend.required_claims), "verify_aud": verify_aud, **options}
        try:
            jwt.decode(token, leeway=leeway, options=merged, **common)
        except PyJWTError as exc:
            errors.append(exc)
    return errors
