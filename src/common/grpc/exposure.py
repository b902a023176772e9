"""The start-up warning for a service reachable from the network that lets anyone call it:
``warn_if_exposed`` runs once, before the server starts.
"""

from __future__ import annotations

import ipaddress

from loguru import logger

from common.configuration import variable
from common.host_port import split_host_port
from common.settings import ServerSettings

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(listen_address: str) -> bool:
    """Whether ``host:port`` (``[v6]:port`` too) accepts connections from this machine only.
    ``0.0.0.0``, ``[::]``, an empty host or any name other than localhost count as reachable."""
    try:
        host = split_host_port(listen_address)[0].lower()
    except ValueError:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_exposed(settings: ServerSettings) -> bool:
    """Log a WARNING when the service listens beyond loopback with authentication off; True if it did."""
    if settings.auth_mode != "off" or is_loopback(settings.listen_address):
        return False
    logger.warning(
        "listening on {} with {}=off: anyone who can reach this address may call every method "
        "(set it to required, see docs/security.md)",
        settings.listen_address,
        variable(settings, "auth_mode"),
    )
    return True
