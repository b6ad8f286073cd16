"""What the account page says about where a session was signed in: enough for a person to
recognise their own devices, and no more.

Only a summary of the User-Agent (browser and system names, no versions) and the network
the address belongs to (IPv4 /24, IPv6 /48) are stored, never the full header or address.
"""

from __future__ import annotations

import ipaddress

from ..net.hosts import peer_address

# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari",
# Android also says "Linux", iOS also says "Mac OS X".
BROWSERS = (
    ("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"), ("Safari/", "Safari"), ("curl/", "curl"),
)
SYSTEMS = (
    ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
    ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"),
)
IPV4_PREFIX = 24
IPV6_PREFIX = 48


def device_summary(user_agent: str) -> str:
    """``"Firefox on Linux"``, or as much of it as the header tells."""
    browser = next((name for marker, name in BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"


def network_of(address: str | None) -> str:
    """The network ``address`` is in (``203.0.113.0/24``), or "" if it is not an address."""
    ip = peer_address(address)
    if ip is None:
        return ""
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
