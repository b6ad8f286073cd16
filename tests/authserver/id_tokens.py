"""ID tokens for tests, signed as the server signs: with its key ring's active key.

Minting ID tokens is the token endpoint's business; these tests only need tokens that
look like ours (or deliberately do not) to present back as ``id_token_hint``.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from joserfc import jwk, jwt

from authserver.appstate import state


def id_token(app: Flask, sub: str, aud: str | list[str], *, sid: str | None = None, key: Any = None,
             header: dict[str, Any] | None = None, **claims: Any) -> str:
    """An ID token for ``sub`` and client ``aud``, issued now for five minutes; ``claims``
    override any claim (``iss``, ``exp``...), ``key``/``header`` the signature."""
    with app.app_context():
        active = state(app).keys.active()
        now = int(time.time())
        body: dict[str, Any] = {"iss": state(app).settings.issuer, "sub": sub, "aud": aud, "iat": now,
                                "exp": now + 300, "auth_time": now}
        if sid is not None:
            body["sid"] = sid
        body.update(claims)
        head = {"alg": active.alg, "kid": active.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(head, body, key if key is not None else active.key, algorithms=[head["alg"]])


def stranger_key(app: Flask) -> Any:
    """A key of the same type as the server's, which the server never had."""
    with app.app_context():
        alg = state(app).keys.active().alg
    kinds = {"ES256": ("EC", "P-256"), "RS256": ("RSA", 2048), "EdDSA": ("OKP", "Ed25519")}
    kty, size = kinds[alg]
    return jwk.generate_key(kty, size)  # type: ignore[call-overload]
