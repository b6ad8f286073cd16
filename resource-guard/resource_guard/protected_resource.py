"""OAuth 2.0 Protected Resource Metadata (RFC 9728).

A :class:`ProtectedResource` describes this API to clients: which authorization servers issue
tokens for it and which scopes it understands. Adapters serve it at the well-known URLs
(§3.1), and a :class:`~resource_guard.guard.Guard` given one points every challenge at it with
``resource_metadata`` (§5.1), so a client that gets a 401 can discover where to get a token
(the MCP authorization flow starts there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from resource_guard.errors import quote_param
from resource_guard.results import AuthResult

WELL_KNOWN = "/.well-known/oauth-protected-resource"

#: Headers for the metadata document: public JSON that clients and proxies may cache, and that
#: browser-based clients may read from another origin.
DOCUMENT_HEADERS: Mapping[str, str] = {
    "Content-Type": "application/json",
    "Cache-Control": "public, max-age=3600",
    "Access-Control-Allow-Origin": "*",
}


def _absolute_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ValueError(f"{name} must be an absolute http(s) URL without a fragment, not {value!r}.")
    return value


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    """This resource server's RFC 9728 §2 metadata.

    ``resource`` is the resource identifier: the URL tokens are issued for (the ``aud`` the
    bearer backends check). Lists are stored as tuples, so the value is immutable and can be
    shared by every worker thread. ``extra`` adds fields this class does not name (signed
    metadata, RFC 8705 / RFC 9449 flags...) and cannot override the named ones.
    """

    resource: str
    authorization_servers: Sequence[str] = ()
    scopes_supported: Sequence[str] = ()
    bearer_methods_supported: Sequence[str] = ("header",)
    resource_name: str | None = None
    resource_documentation: str | None = None
    resource_policy_uri: str | None = None
    resource_tos_uri: str | None = None
    jwks_uri: str | None = None
    resource_signing_alg_values_supported: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _absolute_url(self.resource, "resource")
        for name in ("authorization_servers", "scopes_supported", "bearer_methods_supported",
                     "resource_signing_alg_values_supported"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"{name} must be a list, not a string.")
            object.__setattr__(self, name, tuple(value))
        for server in self.authorization_servers:
            _absolute_url(server, "each authorization server")
        for name in ("resource_documentation", "resource_policy_uri", "resource_tos_uri", "jwks_uri"):
            value = getattr(self, name)
            if value is not None:
                _absolute_url(value, name)
        unknown_methods = set(self.bearer_methods_supported) - {"header", "body", "query"}
        if unknown_methods:
            raise ValueError(f"bearer_methods_supported allows header, body and query, not {sorted(unknown_methods)}.")
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def metadata_url(self) -> str:
        """Where the document lives (§3.1): the well-known segment between host and path."""
        parts = urlsplit(self.resource)
        return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + self.resource_path, parts.query, ""))

    @property
    def resource_path(self) -> str:
        """The resource identifier's path without its trailing slash ("" for a bare host)."""
        return urlsplit(self.resource).path.rstrip("/")

    @property
    def well_known_paths(self) -> tuple[str, ...]:
        """The paths an adapter serves the document at: the path-suffixed form of §3.1, and the
        bare well-known path clients try first when they know only the host."""
        suffixed = WELL_KNOWN + self.resource_path
        return (suffixed,) if suffixed == WELL_KNOWN else (WELL_KNOWN, suffixed)

    def document(self) -> dict[str, Any]:
        """The metadata as a JSON object (§2), omitting fields that are not set."""
        named: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": list(self.authorization_servers),
            "scopes_supported": list(self.scopes_supported),
            "bearer_methods_supported": list(self.bearer_methods_supported),
            "resource_name": self.resource_name,
            "resource_documentation": self.resource_documentation,
            "resource_policy_uri": self.resource_policy_uri,
            "resource_tos_uri": self.resource_tos_uri,
            "jwks_uri": self.jwks_uri,
            "resource_signing_alg_values_supported": list(self.resource_signing_alg_values_supported),
        }
        present = {key: value for key, value in named.items() if value not in (None, [])}
        return {**self.extra, **present}

    def to_json(self) -> str:
        """The document serialised once per call (adapters keep the bytes they serve)."""
        return json.dumps(self.document(), separators=(",", ":"))

    def advertise(self, result: AuthResult) -> AuthResult:
        """``result`` with ``resource_metadata`` added to its challenge (§5.1), if it has one."""
        header = result.headers.get("WWW-Authenticate")
        if result.error is None or not header:
            return result
        headers = {**result.headers,
                   "WWW-Authenticate": f'{header}, resource_metadata="{quote_param(self.metadata_url)}"'}
        return AuthResult.failure(result.error, headers)
