"""Scopes in words for the consent page.

A scope the catalogue describes (``authserver scopes create``) shows its description; the
OpenID Connect scopes have words of their own. Otherwise, scopes named
``<resource>:<action>`` follow the Djblets convention the resource guard uses (``read`` for
GET, ``write`` for changes, ``destroy`` for DELETE); others are shown as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..oauth.names import OIDCScope
from ..resources.catalogue import descriptions

ACTIONS = {
    "read": "View your {resource}",
    "write": "Create and change your {resource}",
    "destroy": "Delete your {resource}",
}

OIDC_WORDS: dict[str, str] = {
    OIDCScope.OPENID: "Know who you are when you sign in",
    OIDCScope.PROFILE: "See your name and username",
    OIDCScope.EMAIL: "See your email address",
    OIDCScope.OFFLINE_ACCESS: "Keep this access while you are not using it",
}


@dataclass(frozen=True)
class ScopeText:
    scope: str
    text: str


def describe(scope: str) -> list[ScopeText]:
    names = scope.split()
    catalogued = descriptions(names)
    return [ScopeText(s, catalogued.get(s) or OIDC_WORDS.get(s) or _words(s)) for s in names]


def _words(scope: str) -> str:
    resource, _, action = scope.rpartition(":")
    if resource and action in ACTIONS:
        return ACTIONS[action].format(resource=resource.replace("_", " ").replace("-", " "))
    return f"Use “{scope}”"
