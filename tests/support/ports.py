"""Ephemeral 127.0.0.1 ports for servers the tests start (free a moment ago: a race the tests accept)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_address() -> str:
    """``127.0.0.1:PORT`` with nothing listening on it (a listen address, or a target that is down)."""
    return f"127.0.0.1:{free_port()}"
