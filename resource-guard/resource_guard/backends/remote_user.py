"""The user a fronting server authenticated (DRF's ``RemoteUserAuthentication``).

A reverse proxy that signs users in (SSO, client certificates, Kerberos) passes the user name
in a request header. Anyone can send that header, so it is believed only when the TCP peer —
``Request.remote_addr`` as the WSGI/ASGI server saw it — is one of the configured proxies;
``X-Forwarded-For`` and friends are never read. From anywhere else the header is ignored (the
request goes on to the next backend, or stays anonymous), and the first such request is logged.
The proxy must overwrite the header on every request, or its clients can pick a user.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from types import MappingProxyType

from resource_guard.backends.base import AuthBackend, Credentials, GetCredentialsResult
from resource_guard.errors import InvalidRequest
from resource_guard.request import Request
from resource_guard.results import AuthResult, Expiry, Principal

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The longest user name accepted (Django's ``User.username`` allows 150).
MAX_USERNAME_LENGTH = 255


def parse_networks(proxies: Iterable[str | Network]) -> tuple[Network, ...]:
    """Addresses or networks (``"10.0.0.5"``, ``"10.0.0.0/24"``, ``"::1"``) as networks."""
    if isinstance(proxies, str):
        raise TypeError("trusted_proxies must be a list of addresses or networks, not a string.")
    return tuple(p if isinstance(p, Network) else ipaddress.ip_network(p, strict=False)
                 for p in proxies)


class RemoteUserBackend(AuthBackend):
    """Trust ``header`` (default ``REMOTE_USER``, i.e. ``Remote-User``) from ``trusted_proxies``.

    The principal is the user itself (``scopes=None``), like a Basic login. Put this backend
    after one whose challenge clients should see: it never challenges on its own.
    """

    www_auth_scheme = "RemoteUser"
    name = "remote_user"

    def __init__(self, *, trusted_proxies: Iterable[str | Network], header: str = "REMOTE_USER",
                 realm: str = "api", name: str | None = None) -> None:
        super().__init__(realm=realm, name=name)
        self.trusted_proxies = parse_networks(trusted_proxies)
        if not self.trusted_proxies:
            raise ValueError("RemoteUserBackend needs trusted_proxies: the addresses of the "
                             "servers allowed to name the user.")
        # CGI spelling (REMOTE_USER) and HTTP spelling (Remote-User) name the same header.
        self.header = header.removeprefix("HTTP_").replace("_", "-")
        self._warned = False

    def is_trusted(self, address: str | None) -> bool:
        """Whether ``address`` (the TCP peer) is one of the trusted proxies."""
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.trusted_proxies)

    def get_credentials(self, request: Request) -> GetCredentialsResult:
        username = request.headers.get(self.header)
        if username is None:
            return None
        if not self.is_trusted(request.remote_addr):
            self._warn_untrusted(request.remote_addr)
            return None
        if not username:
            return None  # the proxy let the request through without signing anyone in
        if (len(username) > MAX_USERNAME_LENGTH or not username.isprintable()
                or username != username.strip()):
            return self.fail(request, InvalidRequest(
                f"The {self.header} header from the proxy is not a valid user name."))
        return {"username": username}

    def validate_credentials(self, request: Request, credentials: Credentials) -> AuthResult:
        username: str = credentials["username"]
        return self.succeed(Principal(
            subject=username, backend=self.name, scopes=None,
            claims=MappingProxyType({"username": username}), expiry=Expiry.NONE))

    async def validate_credentials_async(self, request: Request, credentials: Credentials
                                         ) -> AuthResult:
        return self.validate_credentials(request, credentials)  # no I/O: inline on the loop

    def _warn_untrusted(self, address: str | None) -> None:
        if self._warned:
            return
        self._warned = True
        logger.warning("Ignored a %s header from %s, which is not a trusted proxy (further "
                       "occurrences are not logged)", self.header, address)
