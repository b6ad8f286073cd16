"""``private_key_jwt``: a client authenticates with a JWT it signed (RFC 7523 §2.2 and §3,
OpenID Connect Core §9), at the token, introspection and revocation endpoints alike.

What is checked, in order, so that nothing about a client is told before its key verified
the assertion:

1. ``client_assertion_type`` is exactly RFC 7523's; the assertion is a compact JWS whose
   ``alg`` is asymmetric (``ASSERTION_SIGNING_ALGS``: never ``none``, never HS*) and bound
   to the key's type, and which declares no critical header it cannot honour;
2. ``sub`` names a registered private_key_jwt client (``client_id``, when sent too, equals
   it) and one of its keys (``jwks`` or ``jwks_uri``) verifies the signature;
3. ``iss`` = ``sub``; ``aud`` is this server's issuer identifier and nothing else (see
   ``check_audience``); ``exp`` is present, in the future and at most
   ``client_assertion_max_lifetime`` seconds ahead (and after ``iat``); ``nbf``/``iat`` are
   not in the future; every date is a whole NumericDate;
4. ``jti`` was never presented before by this client: it is claimed by one INSERT into
   ``used_assertions``, so two workers racing with one assertion get one success.

Refusals are ``invalid_client`` with status 401 (RFC 6749 §5.2).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.util import urlsafe_b64decode
from sqlalchemy import delete

from resource_guard import strictjson
from resource_guard.claims import TokenRejected, numeric_date, token_audiences
from resource_guard.jwks import KeysUnavailable

from ..database import conflict_insert
from ..extensions import db
from ..models import Client, UsedAssertion
from ..secrets import SecretHasher
from .client_keys import ClientKeys, KeySetRefused
from .names import ASSERTION_SIGNING_ALGS, CLIENT_ASSERTION_TYPE, AuthMethod

log = logging.getLogger(__name__)

LEEWAY = 30  # seconds of clock difference tolerated on exp, nbf and iat
MAX_JTI_LENGTH = 255
MAX_ASSERTION_LENGTH = 8192


class InvalidClientAssertion(InvalidClientError):
    """A refusal whose reason may be told: it is about the assertion's form, or the signer
    proved it holds the client's key. (``AuthorizationServer.authenticate_client`` gives
    every other ``invalid_client`` one generic description.)"""

    def __init__(self, description: str) -> None:
        super().__init__(description=description, status_code=401)


def _parse(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signing input and signature of a compact JWS (RFC 7515 §7.1); the
    claims must be one JSON object of finite numbers."""
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise InvalidClientAssertion(f"The client_assertion is longer than {MAX_ASSERTION_LENGTH} characters.")
    try:
        parsed = jws.extract_compact(assertion.encode())
        claims = strictjson.loads(parsed.payload)
        signature = urlsafe_b64decode(parsed.segments["signature"])
    except (JoseError, ValueError, UnicodeError):
        raise InvalidClientAssertion("The client_assertion is not a signed JWT (compact JWS).") from None
    if not isinstance(claims, dict):
        raise InvalidClientAssertion("The client_assertion's payload must be a JSON object of claims.")
    signing_input = parsed.segments["header"] + b"." + parsed.segments["payload"]
    return parsed.headers(), claims, signing_input, signature


def _check_header(header: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(alg, kid)``: an allowed algorithm (RFC 8725 §3.1/§3.2); ``crit`` is refused, as
    this server understands no extension (RFC 7515 §4.1.11)."""
    alg = header.get("alg")
    if alg not in ASSERTION_SIGNING_ALGS:
        raise InvalidClientAssertion(
            f"The client_assertion must be signed with one of {', '.join(ASSERTION_SIGNING_ALGS)}."
        )
    if "crit" in header:
        raise InvalidClientAssertion("The client_assertion has critical header parameters this server does not know.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidClientAssertion("The client_assertion's kid must be a string.")
    return alg, kid


class PrivateKeyJWT:
    """Authlib's client authentication hook for ``private_key_jwt``: ``None`` when the request
    carries no assertion (another method's business), the client when it verifies, else
    ``InvalidClientError``."""

    def __init__(
        self, issuer: str, max_lifetime: int, hasher: SecretHasher, keys: ClientKeys,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.max_lifetime = max_lifetime
        self._hasher = hasher
        self._keys = keys
        self._clock = clock

    def __call__(self, query_client: Callable[[str], Client | None], request: Any) -> Client | None:
        form = request.form
        assertion, assertion_type = form.get("client_assertion"), form.get("client_assertion_type")
        if assertion is None and assertion_type is None:
            return None
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise InvalidClientAssertion(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}.")
        if not assertion:
            raise InvalidClientAssertion("Send the signed JWT in client_assertion.")
        header, claims, signing_input, signature = _parse(assertion)
        alg, kid = _check_header(header)
        client_id = claims.get("sub")
        if not isinstance(client_id, str) or not client_id:
            raise InvalidClientAssertion("The client_assertion needs sub: the client_id.")
        if form.get("client_id") not in (None, client_id):
            raise InvalidClientAssertion("client_id differs from the client_assertion's sub.")
        client = query_client(client_id)
        if client is None or client.token_endpoint_auth_method != AuthMethod.PRIVATE_KEY_JWT:
            raise InvalidClientError(status_code=401)
        self._verify_signature(client, alg, kid, signing_input, signature)
        now = self._clock()
        exp = self._check_claims(client_id, claims, int(now))
        self._spend(client_id, claims["jti"], exp, now)
        return client

    def _verify_signature(self, client: Client, alg: str, kid: str | None, signing_input: bytes,
                          signature: bytes) -> None:
        try:
            key = self._keys.key(client, kid)
        except KeySetRefused as exc:
            log.warning("the jwks_uri of self-registered client %s is refused: %s", client.client_id, exc)
            raise InvalidClientAssertion("The client's key set could not be fetched from its jwks_uri: a client "
                                         "that registered itself may only name a host on a public address.") from None
        except KeysUnavailable as exc:
            log.warning("the jwks_uri of client %s could not be fetched: %s", client.client_id, exc)
            raise InvalidClientAssertion("The client's key set could not be fetched from its jwks_uri.") from None
        verifier = key.algorithms.get(alg) if key is not None else None
        if key is None or verifier is None or not verifier.verify(signing_input, key.key, signature):
            raise InvalidClientError(status_code=401)

    def _check_claims(self, client_id: str, claims: Mapping[str, Any], now: int) -> int:
        """RFC 7523 §3 on a verified assertion; returns ``exp``."""
        if claims.get("iss") != client_id:
            raise InvalidClientAssertion("The client_assertion's iss must equal its sub (the client_id).")
        self.check_audience(claims)
        try:
            exp, nbf, iat = (numeric_date(claims, name) for name in ("exp", "nbf", "iat"))
        except TokenRejected as exc:
            reason = str(exc).replace("The token", "The client_assertion").replace('"', "")
            raise InvalidClientAssertion(reason) from None
        if exp is None:
            raise InvalidClientAssertion("The client_assertion needs exp.")
        if exp <= now - LEEWAY:
            raise InvalidClientAssertion("The client_assertion has expired.")
        if (nbf is not None and nbf > now + LEEWAY) or (iat is not None and iat > now + LEEWAY):
            raise InvalidClientAssertion("The client_assertion is not valid yet (nbf or iat in the future).")
        if exp - min(now, iat if iat is not None else now) > self.max_lifetime + LEEWAY:
            raise InvalidClientAssertion(
                f"The client_assertion lives too long: make exp at most {self.max_lifetime} seconds ahead."
            )
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise InvalidClientAssertion(
                f"The client_assertion needs jti: a unique string of 1 to {MAX_JTI_LENGTH} characters."
            )
        return exp

    def check_audience(self, claims: Mapping[str, Any]) -> None:
        """``aud`` must be the issuer identifier, alone (a string, or a list of that one
        string). The token endpoint URL is refused, although RFC 7523 §3 allows it: an
        assertion made for an endpoint URL that another server advertised can be replayed
        here (the 2025 audience-injection finding; draft-ietf-oauth-rfc7523bis and the
        OpenID Connect Core errata make the issuer the one audience)."""
        if token_audiences(claims.get("aud")) != (self.issuer,):
            raise InvalidClientAssertion(f"The client_assertion's aud must be this server's issuer: {self.issuer}")

    def _spend(self, client_id: str, jti: str, exp: int, at: float) -> None:
        """Claim ``jti`` for this client until the assertion expires: one INSERT that does
        nothing when the row exists, so of two racing requests exactly one inserts. Rows are
        cleared from the moment ``_check_claims`` refuses their assertion as expired (``at``
        is the time it checked), never before."""
        now = datetime.fromtimestamp(at, UTC)
        key_hash = self._hasher.hash(f"client-assertion\x00{client_id}\x00{jti}")
        expires_at = datetime.fromtimestamp(exp + LEEWAY, UTC)
        db.session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at <= now))
        claim = (
            conflict_insert(UsedAssertion.__table__, db.engine.dialect.name)
            .values(key_hash=key_hash, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["key_hash"])
            .returning(UsedAssertion.key_hash)  # a row only when this INSERT made it (psycopg's rowcount is -1)
        )
        claimed = db.session.execute(claim).scalar_one_or_none()
        db.session.commit()
        if claimed is None:
            raise InvalidClientAssertion(
                "This client_assertion was already used: sign a new one (a new jti) per request."
            )
