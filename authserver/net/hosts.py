"""What kind of host a URL names: loopback, or public. The one answer every rule asks.

Loopback is what http is allowed on (an issuer, a resource, a redirect URI, a back-channel
receiver for development); public is where the server may connect for a stranger (``fetch``).
The one difference between callers is a parameter: whether the name ``localhost`` counts.
Where a URL is only compared or shown, it does; where the server or a browser will connect
and RFC 8252 §8.3 asks for an address literal (a redirect URI whose port may vary, a
back-channel receiver), ``by_name=False`` takes literals only, since a name can resolve anywhere.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Ranges Python's ``is_global`` may miss on some versions: shared address space (RFC 6598),
# benchmarking (RFC 2544) and the documentation ranges.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in ("100.64.0.0/10", "198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def is_loopback(host: str | None, *, by_name: bool = True) -> bool:
    """``127.0.0.0/8`` or ``::1`` as a literal, or (``by_name``) the name ``localhost``."""
    if not host:
        return False
    if host.lower() == "localhost":
        return by_name
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def peer_address(value: str | None) -> IPAddress | None:
    """A peer's address as written in ``REMOTE_ADDR`` or ``X-Forwarded-For``, an IPv4 peer on a
    dual-stack socket (``::ffff:a.b.c.d``) as IPv4; None if it is not an address."""
    try:
        address = ipaddress.ip_address(value or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback_http(uri: str, *, by_name: bool = True) -> bool:
    """An ``http`` URL on a loopback host (see ``is_loopback``)."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and is_loopback(parts.hostname, by_name=by_name)


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address itself and any IPv4 address an IPv6 address carries to the same host."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return [address.ipv4_mapped]  # ::ffff:0:0/96 is itself "reserved"; judge the host it names
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public_address(value: str) -> bool:
    """True only for an address on the public internet, however it is written."""
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return all(
        a.is_global
        and not (a.is_private or a.is_loopback or a.is_link_local or a.is_multicast or a.is_unspecified
                 or a.is_reserved or any(a in n for n in NOT_PUBLIC if n.version == a.version))
        for a in _embedded(address)
    )
