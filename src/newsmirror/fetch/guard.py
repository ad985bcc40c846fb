"""Which addresses we may connect to.

Feeds are hostile input, and so are their redirects: a feed URL or a redirect pointing at
``169.254.169.254`` or ``127.0.0.1`` must not let a stranger read the operator's metadata
service or admin pages.  Only globally routable unicast addresses pass, checked after DNS
resolution, unless the operator allows private networks (the test suite does, for loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from ..errors import BlockedAddressError, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_refused(ip: IPAddress) -> str | None:
    """Why ``ip`` is refused, or None if it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip in ipaddress.ip_network("100.64.0.0/10"):
        return "carrier-grade NAT address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "private or reserved address"
    return None


async def check_host(host: str, port: int) -> str:
    """Resolve ``host``; refuse it if any address is refused, else return one to connect to.

    The caller connects to exactly this address: resolving again at connect time would let
    a hostile DNS server answer a public address here and a private one there (rebinding).
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchError(f"cannot resolve {host}: {e}") from e
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        reason = address_refused(ip)
        if reason:
            raise BlockedAddressError(
                f"refused {host} ({ip}): {reason}; set [network] allow_private_networks = true "
                "to allow it"
            )
        addresses.append(ip)
    if not addresses:
        raise FetchError(f"cannot resolve {host}: no address")
    return str(addresses[0])
