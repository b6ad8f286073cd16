"""The OAuth names this server speaks, each spelled once.

Registration, the models, the grants, the endpoints, the settings and the command line all
import these; the metadata document (``metadata.py``) is derived from what is registered, not
from these lists.
"""

from __future__ import annotations

from enum import StrEnum


class AuthMethod(StrEnum):
    """Client authentication at the token endpoint (RFC 7591 §2 ``token_endpoint_auth_method``)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"
    PRIVATE_KEY_JWT = "private_key_jwt"


# What a confidential client may use (RFC 6749 §2.3.1); ``none`` is for public clients.
SECRET_METHODS = (AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST)
# Every way a confidential client proves itself: a shared secret, or a key (RFC 7523 §2.2).
CONFIDENTIAL_METHODS = (*SECRET_METHODS, AuthMethod.PRIVATE_KEY_JWT)
# RFC 7523 §2.2: the one ``client_assertion_type`` of a JWT client assertion.
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Signature algorithms a client assertion may use: asymmetric only (no ``none``, no HS*, whose
# secret would be the public key), each bound to its key type (RFC 8725 §3.1).
ASSERTION_SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class GrantType(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"


class ResponseType(StrEnum):
    CODE = "code"


class TokenTypeHint(StrEnum):
    """RFC 7009 §2.1 / RFC 7662 §2.1 ``token_type_hint`` values."""

    ACCESS_TOKEN = "access_token"
    REFRESH_TOKEN = "refresh_token"


class CodeChallengeMethod(StrEnum):
    """RFC 7636; ``plain`` is deliberately absent (RFC 9700 §2.1.1)."""

    S256 = "S256"


class TokenFormat(StrEnum):
    """Access token formats: RFC 9068 JWTs, or opaque ``asat_`` strings found by introspection."""

    JWT = "jwt"
    OPAQUE = "opaque"


class SigningAlg(StrEnum):
    """Algorithms the key ring can create signing keys for."""

    ES256 = "ES256"
    RS256 = "RS256"
    EDDSA = "EdDSA"


class EndpointPath(StrEnum):
    """Where the routes are mounted; the metadata document finds them with ``url_for``."""

    AUTHORIZE = "/oauth/authorize"
    TOKEN = "/oauth/token"
    INTROSPECT = "/oauth/introspect"
    REVOKE = "/oauth/revoke"
    JWKS = "/oauth/jwks"
    METADATA = "/.well-known/oauth-authorization-server"
    OPENID_CONFIGURATION = "/.well-known/openid-configuration"
    USERINFO = "/oauth/userinfo"
    LOGOUT = "/oauth/logout"
    REGISTER = "/oauth/register"


class DynamicRegistration(StrEnum):
    """``AUTHSERVER_DYNAMIC_REGISTRATION``: who may register a client over HTTP (RFC 7591)."""

    OFF = "off"
    INITIAL_TOKEN = "initial-token"
    OPEN = "open"


# Machine endpoints live under these prefixes (every path above but these pages).
MACHINE_PREFIXES = ("/oauth/", "/.well-known/", "/health/", "/metrics")
PAGE_PATHS = (EndpointPath.AUTHORIZE, EndpointPath.LOGOUT)


class OIDCScope(StrEnum):
    """OpenID Connect Core §5.4 and §11 scopes: ``openid`` asks for an ID token, ``profile``
    and ``email`` for groups of claims, ``offline_access`` for a refresh token (see
    ``oauth.id_tokens.refresh_allowed``)."""

    OPENID = "openid"
    PROFILE = "profile"
    EMAIL = "email"
    OFFLINE_ACCESS = "offline_access"


# ID tokens are RS256 unless the client registered another (OIDC Core §15.1: RS256 must be
# available); discovery lists RS256 first.
ID_TOKEN_ALGS = (SigningAlg.RS256, SigningAlg.ES256, SigningAlg.EDDSA)
