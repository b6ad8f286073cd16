"""What the consent page adds for RFC 8707 resources and for clients that registered themselves.

The person approving should see which APIs the token will be good for (by name when the
registry has one), and, for a client nobody vetted (a metadata document client), where it
says it lives and where it will send them: the MCP authorization spec's advice against
impersonation. Redirects that all go to this computer are called out, since any program on
it can claim such a client's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..models import Client
from ..models.clients import BY_DOCUMENT
from ..net.hosts import is_loopback
from ..resources.registry import resource_names


@dataclass(frozen=True)
class ResourceText:
    uri: str
    name: str


@dataclass(frozen=True)
class SelfRegisteredNotes:
    document_host: str
    redirect_hosts: list[str]
    local_only: bool


def describe_resources(client: Client, audience: tuple[str, ...]) -> list[ResourceText]:
    """The APIs the token will be for; not the client's own id, which is no API."""
    uris = [uri for uri in audience if uri != client.client_id]
    names = resource_names(uris)
    return [ResourceText(uri, names.get(uri, "")) for uri in uris]


def self_registered_notes(client: Client) -> SelfRegisteredNotes | None:
    if client.registered_by != BY_DOCUMENT:
        return None
    hosts = [urlsplit(uri).hostname or uri for uri in client.redirect_uris]
    return SelfRegisteredNotes(
        document_host=urlsplit(client.client_id).hostname or client.client_id,
        redirect_hosts=list(dict.fromkeys(hosts)),
        local_only=all(is_loopback(host) for host in hosts),
    )
