"""What a client that registers itself (RFC 7591) may be: the server's policy, on top of the
rules every client follows (``ClientMetadata``).

The settings (``registration_*`` in ``config/defaults.toml``) choose the grant types, the
authentication methods and the extra scopes; the rest is fixed here:

- redirect URIs: https, http only on a loopback host, or a private-use scheme in
  reverse-domain form such as ``com.example.app:/callback`` (RFC 8252 §7.1, §7.3); never a
  fragment;
- scopes: ``openid profile email offline_access``, the scopes the catalogue publishes, and
  ``registration_scopes`` (``allowed_scopes`` is the one place this is decided);
- what only an administrator grants stays the administrator's: ``audiences``,
  ``resource_servers``, ``introspect_any``; PKCE stays required.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .client_metadata import ClientMetadata, InvalidClientMetadata, InvalidRedirectURI
from .config import Settings
from .resources import OPENID_SCOPES, all_resources
from .scope_catalogue import published_scopes

# Fields a self-registered client may not set to anything but their defaults.
ADMINISTRATOR_FIELDS = ("audiences", "resource_servers", "introspect_any")


def allowed_scopes(settings: Settings) -> set[str]:
    """Every scope a self-registered client may ask for: OpenID Connect's, the catalogue's
    published ones, the registered protected resources' and the policy's own."""
    resources = {scope for resource in all_resources() for scope in resource.scopes}
    return {*OPENID_SCOPES, *published_scopes(), *resources, *settings.registration_scopes.split()}


def check_self_registration(metadata: ClientMetadata, settings: Settings) -> None:
    """Raise ``InvalidClientMetadata`` (or ``InvalidRedirectURI``) naming the first field
    this server's policy refuses."""
    refused = set(metadata.grant_types) - set(settings.registration_grant_types.split())
    if refused:
        raise InvalidClientMetadata(
            "grant_types",
            f"grant type {', '.join(sorted(refused))} is not available to self-registered clients; "
            f"choose among {', '.join(settings.registration_grant_types.split())}",
        )
    if metadata.token_endpoint_auth_method not in settings.registration_auth_methods.split():
        raise InvalidClientMetadata(
            "token_endpoint_auth_method",
            f"token_endpoint_auth_method must be among {', '.join(settings.registration_auth_methods.split())}",
        )
    for uri in metadata.redirect_uris:
        check_native_or_https_redirect(uri)
    allowed = allowed_scopes(settings)  # once: its queries must not grow with the scopes asked for
    unknown = [scope for scope in metadata.scope.split() if scope not in allowed]
    if unknown:
        raise InvalidClientMetadata("scope", f"scope {', '.join(unknown)} is not offered to self-registered clients")
    for name in ADMINISTRATOR_FIELDS:
        if getattr(metadata, name):
            raise InvalidClientMetadata(name, f"{name} is set by this server's administrator, not at registration")
    if not metadata.require_pkce:
        raise InvalidClientMetadata("require_pkce", "self-registered clients use PKCE")


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
