"""``host:port`` addresses as operators write them (``127.0.0.1:9464``, ``[::1]:9464``,
``0.0.0.0:9464``, ``metrics.local:9464``), checked before anything tries to bind them
(``parse_host_port``), or only split, where gRPC checks them itself (``split_host_port``)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_DOTTED_NUMBERS = re.compile(r"^[0-9.]+$")


@dataclass(frozen=True)
class HostPort:
    host: str  # without the brackets of an IPv6 address
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def split_host_port(address: str) -> tuple[str, str]:
    """``host:port``, ``[v6]:port`` or ``:port`` as its host (an IPv6 address without its brackets; ""
    when none is written) and its port, neither checked; a ValueError when there is no port."""
    host, colon, port = address.rpartition(":")
    if not colon:
        raise ValueError(f"{address!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def parse_host_port(value: str) -> HostPort:
    """``value`` as a host (IPv4, IPv6 in brackets, or a host name) and a port from 0 to 65535; a
    ValueError saying what is wrong otherwise."""
    if "/" in value:
        raise ValueError("must be host:port, without a scheme or a path (e.g. 127.0.0.1:9464)")
    if value.startswith("["):
        host, closed, rest = value[1:].partition("]")
        if not closed or not rest.startswith(":"):
            raise ValueError("must be [IPv6 address]:port (e.g. [::1]:9464)")
        port = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    else:
        host, colon, port = value.rpartition(":")
        if not colon or not host:
            raise ValueError("must be host:port (e.g. 127.0.0.1:9464; 0.0.0.0:9464 for every interface)")
        if ":" in host:
            raise ValueError("an IPv6 address goes in brackets: [::1]:9464")
        _check_host(host)
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"the port must be a number from 0 to 65535, not {port!r}")
    return HostPort(host, int(port))


def _check_host(host: str) -> None:
    if _DOTTED_NUMBERS.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv4 address") from None
        return
    if len(host) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in host.split(".")):
        raise ValueError(f"{host!r} is neither an IP address nor a host name")
