"""Where a webhook may be sent (SSRF defence): https to public addresses only, checked after DNS resolution
when a subscription is saved and again, on the addresses actually used, at connect time. With
`ENGAGE_WEBHOOK_ALLOW_PRIVATE_TARGETS=true` (tests, the demo) http and loopback, private and link-local
addresses are admitted too."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why, for the client."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, multicast, reserved or unspecified (an
    IPv4-mapped IPv6 address is judged as the IPv4 address it carries)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def parse_target(url: str, *, allow_private: bool) -> Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise UnsafeTarget("Webhook URLs must use https.")
    if not parts.hostname:
        raise UnsafeTarget("The webhook URL has no host.")
    if parts.username or parts.password:
        raise UnsafeTarget("Webhook URLs may not carry credentials.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget("The webhook URL has an invalid port.") from exc
    return Target(url=url, scheme=scheme, host=parts.hostname, port=port)


async def resolve(target: Target, *, allow_private: bool, timeout_seconds: float = 5.0) -> list[IpAddress]:
    """Every address the host resolves to; refused if any is not public (a name that resolves to one public
    and one private address could be pointed at the private one by the time we connect)."""
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IpAddress] = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), timeout=timeout_seconds
            )
        except (OSError, TimeoutError) as exc:
            raise UnsafeTarget(f"The webhook host {target.host} does not resolve.") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not allow_private:
        refused = [str(address) for address in addresses if not is_public(address)]
        if refused:
            raise UnsafeTarget(
                f"The webhook host {target.host} resolves to a non-public address ({', '.join(refused)})."
            )
    return addresses
