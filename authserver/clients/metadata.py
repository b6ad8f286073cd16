"""What a client registers as: RFC 7591 client metadata, checked in one place.

``ClientMetadata`` is the one shape a registration takes, whoever asks: the command line builds
it from its flags, and dynamic registration (RFC 7591, ``web/registration.py``) from JSON with
``from_json``. Field names are RFC 7591's, plus this server's extensions. A value that exists
has been checked and normalised (duplicates dropped, names trimmed); a refusal is an
``InvalidClientMetadata`` naming the field at fault, with RFC 7591 §3.2.2's error code.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from resource_guard.httpclient import FetchError
from resource_guard.jwks import parse_jwks

from ..net.hosts import is_loopback, is_loopback_http
from ..oauth.names import (
    ASSERTION_SIGNING_ALGS,
    ID_TOKEN_ALGS,
    AuthMethod,
    GrantType,
    ResponseType,
    SigningAlg,
    TokenFormat,
)
from ..validation import InvalidField

MAX_JWKS_BYTES = 16384
MAX_URI_LENGTH = 2000
# RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2: members only a private key has.
PRIVATE_KEY_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


class InvalidClientMetadata(InvalidField):
    """RFC 7591 §3.2.2."""

    error = "invalid_client_metadata"


class InvalidRedirectURI(InvalidClientMetadata):
    error = "invalid_redirect_uri"


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def check_redirect_uri(uri: str, field: str = "redirect_uris") -> None:
    """Absolute, no fragment (RFC 6749 §3.1.2); http only for loopback (RFC 8252 §7.3).
    RP-Initiated Logout 1.0 §3.1 holds ``post_logout_redirect_uris`` to the same rules."""
    refuse, what = (
        (InvalidRedirectURI, "redirect URI") if field == "redirect_uris"
        else (InvalidClientMetadata, "post-logout redirect URI")
    )
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "#" in uri:
        raise refuse(field, f"{what} {uri!r} must be absolute and carry no fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise refuse(field, f"{what} {uri!r} must use https (http is for loopback only)")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise refuse(field, f"{what} {uri!r} has no host")


def checked_post_logout_redirect_uris(uris: tuple[str, ...]) -> tuple[str, ...]:
    """Where RP-initiated logout may send a person back to, each checked, duplicates dropped."""
    for uri in uris:
        check_redirect_uri(uri, "post_logout_redirect_uris")
    return _unique(uris)


def check_backchannel_logout_uri(uri: str | None) -> None:
    """Back-Channel Logout 1.0 §2.2: absolute, no fragment; https, or http on a loopback
    host for development (delivery also needs an http loopback issuer: see README)."""
    if uri is None:
        return
    parts = urlsplit(uri)
    secure = parts.scheme == "https" or is_loopback_http(uri, by_name=False)
    if not secure or not parts.hostname or parts.fragment or "#" in uri or len(uri) > 2000:
        raise InvalidClientMetadata(
            "backchannel_logout_uri",
            f"backchannel_logout_uri {uri!r} must be an https URL without fragment (http is for loopback only)",
        )


def checked_resource_servers(identifiers: tuple[str, ...]) -> tuple[str, ...]:
    """API identifiers a resource server serves: the ``aud`` values of the tokens it may
    introspect (RFC 7662 §4), each one word, as ``audiences`` gives them."""
    for identifier in identifiers:
        if not identifier or identifier != identifier.strip() or any(c.isspace() for c in identifier):
            raise InvalidClientMetadata(
                "resource_servers",
                f"resource server identifier {identifier!r} must be one word, e.g. https://api.example",
            )
    return _unique(identifiers)


def check_may_introspect(public: bool, resource_servers: object, introspect_any: bool | None) -> None:
    """Only a client that can authenticate may introspect (RFC 7662 §2.1)."""
    if public and (resource_servers or introspect_any):
        field = "introspect_any" if introspect_any else "resource_servers"
        raise InvalidClientMetadata(
            field, "a public client cannot introspect tokens: it has no secret to authenticate with"
        )


def check_id_token_alg(alg: str) -> None:
    """An algorithm the key ring signs ID tokens with; ``none`` and HMAC are never accepted."""
    if alg not in ID_TOKEN_ALGS:
        raise InvalidClientMetadata(
            "id_token_signed_response_alg", f"id_token_signed_response_alg must be one of {', '.join(ID_TOKEN_ALGS)}"
        )


def check_jwks(jwks: Mapping[str, Any]) -> None:
    """A JWK Set of public signing keys this server can verify assertions with (RFC 7517 §5)."""
    if len(json.dumps(jwks)) > MAX_JWKS_BYTES:
        raise InvalidClientMetadata("jwks", f"jwks is larger than {MAX_JWKS_BYTES} bytes")
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(key, dict) for key in keys):
        raise InvalidClientMetadata("jwks", 'jwks must be a JWK Set: {"keys": [ ...public keys... ]}')
    if any(member in key for key in keys for member in PRIVATE_KEY_MEMBERS):
        raise InvalidClientMetadata("jwks", "jwks must hold public keys only: remove the private members (d, ...)")
    try:
        usable = parse_jwks(jwks)
    except FetchError:
        usable = {}
    if not any(alg in ASSERTION_SIGNING_ALGS for key in usable.values() for alg in key.algorithms):
        raise InvalidClientMetadata(
            "jwks", "jwks has no public signing key this server verifies (RSA of 2048 bits or more, EC P-256/384/521 "
            "or Ed25519)"
        )


def check_jwks_uri(uri: str) -> None:
    """An https URL the key set is fetched from (RFC 7591 §2)."""
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname or parts.fragment or "#" in uri or len(uri) > MAX_URI_LENGTH:
        raise InvalidClientMetadata("jwks_uri", f"jwks_uri {uri!r} must be an https URL without a fragment")


@dataclass(frozen=True)
class ClientMetadata:
    """RFC 7591 §2 fields, then this server's extensions. Defaults are RFC 7591's."""

    client_name: str
    grant_types: tuple[str, ...] = (GrantType.AUTHORIZATION_CODE,)
    # RFC 7591 §2.1: ``code`` exactly when ``authorization_code`` is a grant type; derived
    # when not given.
    response_types: tuple[str, ...] | None = None
    redirect_uris: tuple[str, ...] = ()
    scope: str = ""
    token_endpoint_auth_method: str = AuthMethod.CLIENT_SECRET_BASIC
    # Extensions: the access token format (None: the server's setting), the ``aud`` its tokens
    # carry, the API identifiers it serves as a resource server, whether it may introspect
    # every token, and whether it must use PKCE (always, for a public client).
    access_token_format: str | None = None
    audiences: tuple[str, ...] = ()
    resource_servers: tuple[str, ...] = ()
    introspect_any: bool = False
    require_pkce: bool = True
    # OpenID Connect Registration §2: the algorithm of this client's ID tokens.
    id_token_signed_response_alg: str = SigningAlg.RS256
    # RP-Initiated Logout 1.0 §3.1: where a logout request may send the person afterwards.
    post_logout_redirect_uris: tuple[str, ...] = ()
    # Back-Channel Logout 1.0 §2.2 (OpenID names): logout tokens are POSTed there; ``sid``
    # is always sent, so "session required" is met whatever it says.
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    # RFC 7591 §2: the public keys of a private_key_jwt client, inline or by URL (one of them).
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None

    def __post_init__(self) -> None:
        self._set(
            client_name=self.client_name.strip(),
            grant_types=_unique(self.grant_types),
            redirect_uris=_unique(self.redirect_uris),
            scope=" ".join(dict.fromkeys(self.scope.split())),
            audiences=_unique(self.audiences),
        )
        self._check_grants()
        self._set(resource_servers=checked_resource_servers(self.resource_servers))
        self._set(post_logout_redirect_uris=checked_post_logout_redirect_uris(self.post_logout_redirect_uris))
        if self.access_token_format not in (None, *TokenFormat):
            raise InvalidClientMetadata("access_token_format", "token format must be jwt or opaque")
        if self.token_endpoint_auth_method not in tuple(AuthMethod):
            raise InvalidClientMetadata(
                "token_endpoint_auth_method", f"token_endpoint_auth_method must be among {', '.join(AuthMethod)}"
            )
        check_may_introspect(self.is_public, self.resource_servers, self.introspect_any)
        check_id_token_alg(self.id_token_signed_response_alg)
        check_backchannel_logout_uri(self.backchannel_logout_uri)
        self._check_keys()
        if self.is_public:
            self._set(require_pkce=True)

    def _check_keys(self) -> None:
        """A private_key_jwt client names its keys one way, inline or by URL, never both
        (RFC 7591 §2); other clients have no use for them here."""
        keyed = self.token_endpoint_auth_method == AuthMethod.PRIVATE_KEY_JWT
        given = [name for name in ("jwks", "jwks_uri") if getattr(self, name) is not None]
        if keyed and len(given) != 1:
            raise InvalidClientMetadata("jwks", "a private_key_jwt client gives either jwks or jwks_uri (one of them)")
        if not keyed and given:
            raise InvalidClientMetadata(
                given[0], f"{given[0]} is for clients whose token_endpoint_auth_method is private_key_jwt"
            )
        if self.jwks is not None:
            check_jwks(self.jwks)
        if self.jwks_uri is not None:
            check_jwks_uri(self.jwks_uri)

    def _check_grants(self) -> None:
        if not self.client_name:
            raise InvalidClientMetadata("client_name", "a client needs a name")
        if not self.grant_types or not set(self.grant_types) <= set(GrantType):
            raise InvalidClientMetadata("grant_types", f"grant types must be among {', '.join(GrantType)}")
        if self.is_public and GrantType.CLIENT_CREDENTIALS in self.grant_types:
            raise InvalidClientMetadata(
                "grant_types", "a public client cannot use client_credentials: it has no secret"
            )
        if GrantType.REFRESH_TOKEN in self.grant_types and GrantType.AUTHORIZATION_CODE not in self.grant_types:
            raise InvalidClientMetadata("grant_types", "refresh_token only comes with authorization_code")
        expected = (ResponseType.CODE,) if GrantType.AUTHORIZATION_CODE in self.grant_types else ()
        if self.response_types is not None and set(self.response_types) != set(expected):
            raise InvalidClientMetadata(
                "response_types", "response_types must be code with authorization_code, and nothing otherwise"
            )
        self._set(response_types=tuple(str(t) for t in expected))
        if GrantType.AUTHORIZATION_CODE in self.grant_types and not self.redirect_uris:
            raise InvalidRedirectURI("redirect_uris", "authorization_code needs at least one redirect URI")
        for uri in self.redirect_uris:
            check_redirect_uri(uri)

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == AuthMethod.NONE

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ClientMetadata:
        """RFC 7591 §2: unknown fields are ignored; a known field of the wrong type is refused."""
        if not isinstance(document, Mapping):
            raise InvalidClientMetadata("", "client metadata is a JSON object")
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            if spec.name in document:
                values[spec.name] = _typed(spec.name, document[spec.name], _JSON_TYPES[spec.name])
        if "client_name" not in values:
            raise InvalidClientMetadata("client_name", "a client needs a name")
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The fields as RFC 7591 writes them: lists for arrays, absent when unset."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
            if value is not None
        }


# How each field travels in JSON: "str", "[str]" (an array of strings) or "bool"; "str?" may
# also be null.
_JSON_TYPES = {
    "client_name": "str",
    "grant_types": "[str]",
    "response_types": "[str]",
    "redirect_uris": "[str]",
    "scope": "str",
    "token_endpoint_auth_method": "str",
    "access_token_format": "str?",
    "audiences": "[str]",
    "resource_servers": "[str]",
    "introspect_any": "bool",
    "require_pkce": "bool",
    "id_token_signed_response_alg": "str",
    "post_logout_redirect_uris": "[str]",
    "backchannel_logout_uri": "str?",
    "backchannel_logout_session_required": "bool",
    "jwks": "object?",
    "jwks_uri": "str?",
}


def _typed(name: str, value: Any, kind: str) -> Any:
    if kind == "[str]":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise InvalidClientMetadata(name, f"{name} must be an array of strings")
    if kind == "object?":
        if value is None or isinstance(value, dict):
            return value
        raise InvalidClientMetadata(name, f"{name} must be a JSON object")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise InvalidClientMetadata(name, f"{name} must be true or false")
    if isinstance(value, str) or (kind == "str?" and value is None):
        return value
    raise InvalidClientMetadata(name, f"{name} must be a string")


__all__ = [
    "ClientMetadata",
    "InvalidClientMetadata",
    "InvalidRedirectURI",
    "check_backchannel_logout_uri",
    "check_id_token_alg",
    "check_jwks",
    "check_jwks_uri",
    "check_may_introspect",
    "checked_post_logout_redirect_uris",
    "checked_resource_servers",
]
