"""The reports API's guard, built from the environment; shared by the Flask and ASGI examples.

JWTs are checked locally, opaque tokens by introspection, and the authserver's legacy API tokens
and user passwords through its database (``AUTHSERVER_DATABASE_URL`` and the server's secret,
as for ``protected_api.py``). Environment: ``ISSUER``, ``AUDIENCE``, ``RS_CLIENT_ID``,
``RS_CLIENT_SECRET``; optional ``REDIS_URL`` (caches shared by the workers),
``KID_REFETCH_INTERVAL``, ``INTROSPECTION_CACHE_TTL``.
"""

from __future__ import annotations

import os

from authserver.stores import APITokenStore, UserPasswordVerifier
from resource_guard import ProtectedResource
from resource_guard.backends import (
    APITokenBackend,
    AuthBackend,
    BasicAuthBackend,
    BearerJWTBackend,
    IntrospectionBackend,
)
from resource_guard.cache import RedisCache

SCOPES = ["reports:read", "reports:write", "reports:destroy", "items:read", "items:write", "items:destroy"]


def protected_resource(name: str) -> ProtectedResource:
    """This API's RFC 9728 metadata: tokens for ``AUDIENCE`` come from ``ISSUER``."""
    return ProtectedResource(resource=os.environ["AUDIENCE"], authorization_servers=[os.environ["ISSUER"]],
                             resource_name=name, scopes_supported=SCOPES)


def backends(cache_prefix: str) -> list[AuthBackend]:
    issuer, audience = os.environ["ISSUER"], os.environ["AUDIENCE"]
    url = os.environ.get("REDIS_URL")
    cache = RedisCache(url, prefix=cache_prefix) if url else None
    return [
        BearerJWTBackend(issuer=issuer, audience=audience,
                         kid_refetch_interval=float(os.environ.get("KID_REFETCH_INTERVAL", 15))),
        IntrospectionBackend(issuer=issuer, client_id=os.environ["RS_CLIENT_ID"],
                             client_secret=os.environ["RS_CLIENT_SECRET"], audience=audience, cache=cache,
                             max_cache_ttl=float(os.environ.get("INTROSPECTION_CACHE_TTL", 300))),
        APITokenBackend(store=APITokenStore()),
        BasicAuthBackend(verifier=UserPasswordVerifier(), rate_limit_cache=cache),
    ]
