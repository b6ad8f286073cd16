"""What a client that registers itself (RFC 7591) may be: the server's policy, on top of the
rules every client follows (``ClientMetadata``).

The settings (``registration_*`` in ``config/defaults.toml``) choose the grant types, the
authentication methods and the extra scopes; the rest is fixed here:

- redirect URIs: https, http only on a loopback host, or a private-use scheme in
  reverse-domain form such as ``com.example.app:/callback`` (RFC 8252 §7.1, §7.3); never a
  fragment;
- scopes: what ``ScopeOffer`` offers, the one rule for registration, authorization and the
  token endpoint alike: a protected resource's scopes, on tokens for that resource only; and,
  on any of the client's tokens, OpenID Connect's (``openid profile email offline_access``),
  the catalogue's published scopes and ``registration_scopes``, less any a resource claims;
- what only an administrator grants stays the administrator's: ``audiences``,
  ``resource_servers``, ``introspect_any``; PKCE stays required;
- URLs the server contacts (``backchannel_logout_uri``, ``jwks_uri``) reach a public address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config import Settings
from ..net.fetch import AddressRefused, FetchLimits, check_public_url
from ..resources.catalogue import published_scopes
from ..resources.registry import OPENID_SCOPES, all_resources
from .metadata import ClientMetadata, InvalidClientMetadata, InvalidRedirectURI

# Fields a self-registered client may not set to anything but their defaults.
ADMINISTRATOR_FIELDS = ("audiences", "resource_servers", "introspect_any")
# URL fields the server itself contacts: each must reach a public address.
OUTWARD_FIELDS = ("backchannel_logout_uri", "jwks_uri")


@dataclass(frozen=True)
class ScopeOffer:
    """What this server offers clients nobody vetted, read once per request: each protected
    resource's scopes, and the scopes that are no resource's, which any of their tokens may
    carry. A resource's scope is never offered on a token for another resource."""

    resources: Mapping[str, frozenset[str]]
    everywhere: frozenset[str]

    def registrable(self) -> frozenset[str]:
        """What a self-registered client may hold at all."""
        return self.everywhere.union(*self.resources.values())

    def for_audience(self, audience: Iterable[str]) -> frozenset[str]:
        """What a token for ``audience`` may carry (an audience that is no registered resource,
        such as the client itself, adds nothing)."""
        return self.everywhere.union(*(self.resources.get(uri, frozenset()) for uri in audience))


def scope_offer(settings: Settings) -> ScopeOffer:
    """Two queries, whatever the request asks for: the resources and the published scopes."""
    resources = {resource.uri: frozenset(resource.scopes) for resource in all_resources()}
    claimed = frozenset[str]().union(*resources.values())
    unclaimed = {*published_scopes(), *settings.registration_scopes} - claimed
    return ScopeOffer(resources, frozenset({*OPENID_SCOPES, *unclaimed}))


def check_self_registration(metadata: ClientMetadata, settings: Settings) -> None:
    """Raise ``InvalidClientMetadata`` (or ``InvalidRedirectURI``) naming the first field
    this server's policy refuses."""
    refused = set(metadata.grant_types) - settings.registration_grant_types
    if refused:
        raise InvalidClientMetadata(
            "grant_types",
            f"grant type {', '.join(sorted(refused))} is not available to self-registered clients; "
            f"choose among {', '.join(sorted(settings.registration_grant_types))}",
        )
    if metadata.token_endpoint_auth_method not in settings.registration_auth_methods:
        raise InvalidClientMetadata(
            "token_endpoint_auth_method",
            f"token_endpoint_auth_method must be among {', '.join(sorted(settings.registration_auth_methods))}",
        )
    for uri in metadata.redirect_uris:
        check_native_or_https_redirect(uri)
    allowed = scope_offer(settings).registrable()  # once: its queries must not grow with the scopes asked for
    unknown = [scope for scope in metadata.scope.split() if scope not in allowed]
    if unknown:
        raise InvalidClientMetadata("scope", f"scope {', '.join(unknown)} is not offered to self-registered clients")
    for name in ADMINISTRATOR_FIELDS:
        if getattr(metadata, name):
            raise InvalidClientMetadata(name, f"{name} is set by this server's administrator, not at registration")
    if not metadata.require_pkce:
        raise InvalidClientMetadata("require_pkce", "self-registered clients use PKCE")
    check_outward_fields(metadata, settings)


def check_outward_fields(metadata: ClientMetadata, settings: Settings) -> None:
    """Each URL of ``OUTWARD_FIELDS`` the client gave reaches a public address."""
    for field in OUTWARD_FIELDS:
        uri = getattr(metadata, field)
        if uri is not None:
            check_outward(field, uri, settings)


def check_outward(field: str, uri: str, settings: Settings) -> None:
    """The server will contact ``uri`` (POST logout tokens, GET keys): not into its own
    network (SSRF), unless the operator allow-listed the host (``cimd_allowed_hosts``, for
    development). Every use resolves and checks again, so a later DNS answer cannot aim it
    inward either; this check makes a stranger learn it at once."""
    try:
        check_public_url(uri, FetchLimits(allowed_hosts=settings.cimd_allowed_hosts))
    except AddressRefused as exc:
        raise InvalidClientMetadata(field, f"{field} must reach a public address: {exc.reason}") from None


def check_native_or_https_redirect(uri: str) -> None:
    """https anywhere; http on a loopback host (``ClientMetadata`` checks that); otherwise a
    private-use scheme named for a domain the app owns, with a dot (RFC 8252 §7.1)."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme in ("https", "http"):
        return
    if "." not in scheme:
        raise InvalidRedirectURI(
            "redirect_uris",
            f"redirect URI {uri!r}: use https, http on a loopback address, or a private-use scheme "
            "in reverse-domain form (com.example.app:/callback)",
        )
