"""The authentication backends: one module per scheme."""

from resource_guard.backends.api_tokens import APITokenBackend, APITokenRecord, APITokenStore
from resource_guard.backends.base import AuthBackend, Credentials
from resource_guard.backends.basic import BasicAuthBackend, PasswordVerifier, VerifiedUser
from resource_guard.backends.bearer_jwt import BearerJWTBackend
from resource_guard.backends.introspection import IntrospectionBackend
from resource_guard.backends.remote_user import RemoteUserBackend
from resource_guard.claims import ANY_AUDIENCE, TokenRejected

__all__ = [
    "ANY_AUDIENCE", "APITokenBackend", "APITokenRecord", "APITokenStore", "AuthBackend",
    "BasicAuthBackend", "BearerJWTBackend", "Credentials", "IntrospectionBackend",
    "PasswordVerifier", "RemoteUserBackend", "TokenRejected", "VerifiedUser",
]
