"""Metrics addresses are checked when the settings are read: the forms gRPC and Prometheus use pass,
anything that could not be bound as written is refused with a reason (the settings name the variable)."""

from __future__ import annotations

import pytest

from common.host_port import HostPort, parse_host_port, split_host_port
from order.settings import OrderSettings


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("127.0.0.1:9464", HostPort("127.0.0.1", 9464)),
        ("0.0.0.0:0", HostPort("0.0.0.0", 0)),
        ("[::1]:9465", HostPort("::1", 9465)),
        ("[::]:9465", HostPort("::", 9465)),
        ("localhost:9464", HostPort("localhost", 9464)),
        ("metrics-1.eshop.internal:65535", HostPort("metrics-1.eshop.internal", 65535)),
    ],
)
def test_the_forms_an_operator_writes_are_taken(value: str, parsed: HostPort) -> None:
    assert parse_host_port(value) == parsed
    assert str(parsed) == value  # written back the same way (brackets kept for IPv6)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("http://127.0.0.1:9464", "without a scheme or a path"),
        ("127.0.0.1:9464/metrics", "without a scheme or a path"),
        ("999.1.1.1:9464", "'999.1.1.1' is not an IPv4 address"),
        ("1.2.3:9464", "'1.2.3' is not an IPv4 address"),
        ("::1:9465", "an IPv6 address goes in brackets: [::1]:9464"),
        ("[::1]", "must be [IPv6 address]:port"),
        ("[::g]:9465", "'::g' is not an IPv6 address"),
        ("127.0.0.1", "must be host:port"),
        (":9464", "must be host:port"),
        ("127.0.0.1:", "the port must be a number from 0 to 65535, not ''"),
        ("127.0.0.1:65536", "the port must be a number from 0 to 65535, not '65536'"),
        ("127.0.0.1:-1", "the port must be a number from 0 to 65535, not '-1'"),
        ("metrics_host:9464", "'metrics_host' is neither an IP address nor a host name"),
        ("-metrics:9464", "'-metrics' is neither an IP address nor a host name"),
    ],
)
def test_what_cannot_be_bound_as_written_is_refused_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_host_port(value)
    assert reason in str(refused.value)


def test_the_settings_refuse_a_bad_metrics_address_and_take_an_empty_one() -> None:
    with pytest.raises(ValueError, match=r"without a scheme or a path.*or empty for no metrics endpoint"):
        OrderSettings(metrics_address="http://127.0.0.1:9465")
    assert OrderSettings(metrics_address="").metrics_address == ""
    assert OrderSettings(metrics_address="[::1]:9465").metrics_address == "[::1]:9465"


@pytest.mark.parametrize(
    ("address", "split"),
    [
        ("127.0.0.1:50051", ("127.0.0.1", "50051")),
        ("[::1]:0", ("::1", "0")),
        ("[::]:50051", ("::", "50051")),
        (":50051", ("", "50051")),
        ("shop.example:x", ("shop.example", "x")),  # unchecked: gRPC checks a listen address itself
    ],
)
def test_an_address_splits_into_its_host_without_brackets_and_its_port(
    address: str, split: tuple[str, str]
) -> None:
    assert split_host_port(address) == split


def test_an_address_without_a_port_does_not_split() -> None:
    with pytest.raises(ValueError, match="not host:port"):
        split_host_port("localhost")
