"""The scrape endpoint as an operator configures it: IPv6 in brackets, /metrics and nothing else, and
a port that cannot be bound said with the variable that chose it; a stop that does not wait out the
server's poll."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from common import metrics_endpoint
from common.grpc.server import CannotServeMetrics
from common.host_port import HostPort
from common.metrics_endpoint import MetricsEndpoint
from product.settings import ProductSettings
from tests.support.prometheus_scrape import Scrape
from tests.support.servers import start_product


def _product_settings(make_database_url: Callable[[str], str], metrics_address: str) -> ProductSettings:
    return ProductSettings(
        listen_address="127.0.0.1:0",
        database_url=make_database_url("product"),
        metrics_address=metrics_address,
        shutdown_grace_s=0,
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_an_ipv6_address_in_brackets_is_served_and_only_metrics_answers(
    make_database_url: Callable[[str], str],
) -> None:
    running, _ = start_product(_product_settings(make_database_url, "[::1]:0"))
    try:
        address = running.metrics_address
        assert address is not None and address.startswith("[::1]:")
        assert not address.endswith(":0")  # the port the OS chose, not the one configured

        status, body = _get(f"http://{address}/metrics")
        assert status == 200
        assert Scrape.parse(body).value("process_open_fds") > 0
        for path in ("/", "/metrics/", "/favicon.ico", "/other", "/metricsx"):
            assert _get(f"http://{address}{path}")[0] == 404, path
    finally:
        running.stop(0)


def test_a_taken_metrics_port_is_refused_naming_the_variable(make_database_url: Callable[[str], str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"

        with pytest.raises(CannotServeMetrics) as refused:
            start_product(_product_settings(make_database_url, address))

    message = str(refused.value)
    assert message.startswith(f"PRODUCT_METRICS_ADDRESS='{address}': cannot serve metrics there: ")
    assert "in use" in message


def test_closing_wakes_the_endpoint_at_once_not_after_its_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service's stop closes the endpoint on its event loop: waiting out serve_forever's poll cost half
    a second at every stop. With the poll made an hour long, close returns and nothing listens on the port."""
    monkeypatch.setattr(metrics_endpoint, "POLL_INTERVAL_S", 3600.0)
    endpoint = MetricsEndpoint(CollectorRegistry(), HostPort("127.0.0.1", 0))
    assert _get(endpoint.url)[0] == 200

    closing = threading.Thread(target=endpoint.close, daemon=True)
    closing.start()
    closing.join(30)

    assert not closing.is_alive(), "close waited for the hour-long poll"
    with pytest.raises(ConnectionRefusedError):  # nothing listens there any more
        socket.create_connection(("127.0.0.1", endpoint.bound.port), timeout=5).close()
