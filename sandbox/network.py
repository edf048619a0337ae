"""The machine's addresses on the local network, for a store that a room full of laptops reaches.

Found with the standard library only: the address the machine would send from (a UDP socket
"connected" to a documentation address: nothing is sent), then the host name's addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

# TEST-NET-1 (RFC 5737): never routed, so "connecting" a UDP socket to it only picks a route.
_PROBE = ("192.0.2.1", 9)
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses others on the network can reach, the likeliest first."""
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_PROBE)
            found.append(str(probe.getsockname()[0]))
    except OSError:
        pass  # no route at all: no network
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        found.extend(str(info[4][0]) for info in infos)
    except OSError:
        pass
    usable = []
    for address in dict.fromkeys(found):
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local):
            usable.append(address)
    return usable


def with_host(url: str, host: str) -> str:
    """`url` with its host replaced by `host` (the port and path kept)."""
    parts = urlsplit(url)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def serving_urls(host: str, port: int) -> list[str]:
    """The addresses to give people for a store listening on `host`:`port`."""
    if host in WILDCARDS:
        return [f"http://127.0.0.1:{port}/"] + [f"http://{a}:{port}/" for a in lan_addresses()]
    shown = f"[{host}]" if ":" in host else host
    return [f"http://{shown}:{port}/"]
