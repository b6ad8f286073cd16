"""The guard, built from the environment: JWTs checked locally, opaque tokens by introspection,
the authserver's legacy API tokens and user passwords, and an optional authenticating proxy."""

from __future__ import annotations

import os

from authserver.stores import APITokenStore, UserPasswordVerifier
from resource_guard import Guard, ProtectedResource
from resource_guard.backends import (
    APITokenBackend,
    AuthBackend,
    BasicAuthBackend,
    BearerJWTBackend,
    IntrospectionBackend,
    RemoteUserBackend,
)
from resource_guard.cache import RedisCache

ISSUER = os.environ["ISSUER"]
AUDIENCE = os.environ["AUDIENCE"]

protected_resource = ProtectedResource(
    resource=AUDIENCE, authorization_servers=[ISSUER], resource_name="Reports API (DRF example)",
    scopes_supported=["reports:read", "items:read", "items:write", "items:destroy"])

_cache = RedisCache(os.environ["REDIS_URL"], prefix="drf-reports:") if os.environ.get("REDIS_URL") else None
_backends: list[AuthBackend] = [
    BearerJWTBackend(issuer=ISSUER, audience=AUDIENCE,
                     kid_refetch_interval=float(os.environ.get("KID_REFETCH_INTERVAL", 15))),
    IntrospectionBackend(issuer=ISSUER, client_id=os.environ["RS_CLIENT_ID"],
                         client_secret=os.environ["RS_CLIENT_SECRET"], audience=AUDIENCE, cache=_cache,
                         max_cache_ttl=float(os.environ.get("INTROSPECTION_CACHE_TTL", 300))),
    APITokenBackend(store=APITokenStore()),
    BasicAuthBackend(verifier=UserPasswordVerifier(), rate_limit_cache=_cache),
]
if os.environ.get("TRUSTED_PROXIES"):
    _backends.append(RemoteUserBackend(trusted_proxies=os.environ["TRUSTED_PROXIES"].split(",")))

guard = Guard(_backends, protected_resource=protected_resource)
