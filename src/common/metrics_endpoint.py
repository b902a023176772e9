"""The Prometheus scrape endpoint: ``GET /metrics`` on a thread of its own, 404 on any other path.

prometheus_client's ``start_http_server`` answers metrics on every path and takes the host without
IPv6 brackets; this is its WSGI app behind a path check, on the same threading server.

``serve_forever`` looks for a request to stop only between polls of its socket, so a plain
``shutdown()`` waits up to a poll interval (half a second, on the event loop, at every stop). Closing
first shuts the listening socket down, which wakes the poll at once (Linux; elsewhere the poll interval
still bounds the wait).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from common.host_port import HostPort

PATH = "/metrics"
POLL_INTERVAL_S = 0.5  # serve_forever's own default: what a stop waits where the wake-up does not work
StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (one every few seconds, from every Prometheus)."""


class MetricsEndpoint:
    """Serves ``registry`` at ``http://address/metrics``; ``port`` is the one bound (the OS's choice
    when the address said 0)."""

    def __init__(self, registry: CollectorRegistry, address: HostPort) -> None:
        # The family of what the host resolves to: AF_INET6 for [::1], AF_INET for 127.0.0.1.
        family, *_ = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]

        class Server(ThreadingWSGIServer):
            address_family = family

        self._server: WSGIServer = make_server(
            address.host, address.port, _only_metrics(make_wsgi_app(registry)), Server, _QuietHandler
        )
        self.bound = HostPort(address.host, self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_INTERVAL_S,), name="metrics", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.bound}{PATH}"

    def close(self) -> None:
        # A listening socket shut down polls as readable (its accept fails, which serve_forever
        # ignores): the loop goes round at once and sees the request to stop (module docstring).
        with contextlib.suppress(OSError):
            self._server.socket.shutdown(socket.SHUT_RDWR)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _only_metrics(app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> Any:
    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"not found: metrics are at {PATH}\n".encode()]
        return app(environ, start_response)

    return serve
