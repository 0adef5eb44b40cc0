"""Which URLs a webhook may be sent to: http(s) only, and no loopback, private, link-local or
otherwise non-public address (the server must not be turned against its own network), unless
the address is in WEBHOOK_ALLOWED_NETWORKS. Checked when an endpoint is saved and again before
each delivery (a name can resolve elsewhere later)."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.errors import InvalidInput
from app.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlNotAllowed(ValueError):
    pass


def _allowed(address: Address, settings: Settings) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    networks = [ipaddress.ip_network(network, strict=False) for network in settings.webhook_allowed_networks]
    if any(address in network for network in networks):
        return True
    return address.is_global and not address.is_multicast


async def check_url(url: str, settings: Settings) -> None:
    """Raises UrlNotAllowed saying why the URL may not receive webhooks."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlNotAllowed("only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise UrlNotAllowed("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowed("credentials in the URL are not accepted")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise UrlNotAllowed("the URL's port is not valid") from error
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UrlNotAllowed(f"the host {parts.hostname} cannot be resolved") from error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not _allowed(address, settings):
            raise UrlNotAllowed(f"the host resolves to {address}, a loopback, private or reserved address")


async def require_allowed_url(url: str, settings: Settings) -> None:
    """check_url as a 422 naming the `url` field."""
    try:
        await check_url(url, settings)
    except UrlNotAllowed as error:
        raise InvalidInput(
            f"The URL cannot receive webhooks: {error}.",
            errors=[{"field": "url", "loc": ["body", "url"], "msg": str(error), "type": "url_not_allowed"}],
        ) from error
