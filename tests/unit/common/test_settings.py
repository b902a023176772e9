"""AUTH_* settings on both services: defaults, per-service audience, and refusals of incomplete setups;
the events settings' defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from common import configuration
from common.outbox.backoff import outbox_backoff
from order.settings import OrderSettings
from product.settings import ProductSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("PRODUCT_", "ORDER_")):
            monkeypatch.delenv(name)


def test_auth_is_off_by_default_with_an_audience_per_service() -> None:
    product, order = ProductSettings(), OrderSettings()

    assert (product.auth_mode, order.auth_mode) == ("off", "off")
    assert (product.auth_audience, order.auth_audience) == ("eshop-product", "eshop-order")
    assert product.auth_clock_skew_s == order.auth_clock_skew_s == 30.0
    assert product.auth_stock_client_ids == frozenset()
    assert order.product_token_file is None


def test_events_go_nowhere_by_default_and_to_the_eshop_events_exchange_once_a_broker_is_set() -> None:
    product, order = ProductSettings(), OrderSettings()

    assert (product.events_broker_url, order.events_broker_url) == ("", "")
    assert (product.events_exchange, order.events_exchange) == ("eshop.events", "eshop.events")


def test_the_default_event_settings_publish_what_waited_within_30_s_of_the_broker_being_back() -> None:
    """Once the broker is back, the publisher's next connection attempt comes at most one (capped)
    backoff later, then a poll and a publication's confirmation: the contract's 30 s, by default.
    tests/integration/events/test_outages.py sees it happen with these defaults."""
    for settings in (ProductSettings(), OrderSettings()):
        worst = 0.0
        for failures in range(1, 30):
            backoff = outbox_backoff(settings.events_initial_backoff_s, settings.events_max_backoff_s)
            worst = max(worst, backoff.delay(failures))
        worst += settings.events_poll_interval_s + settings.events_publish_timeout_s
        assert worst <= 30.0


def test_the_variables_are_read_with_each_service_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRODUCT_AUTH_MODE", "required")
    monkeypatch.setenv("PRODUCT_AUTH_JWKS_URL", "https://idp.example/.well-known/jwks.json")
    monkeypatch.setenv("PRODUCT_AUTH_ISSUER", "https://idp.example/")
    monkeypatch.setenv("PRODUCT_AUTH_CLOCK_SKEW_S", "5")
    monkeypatch.setenv("PRODUCT_AUTH_STOCK_CLIENT_IDS", " spiffe://eshop/order ,order.internal,")
    monkeypatch.setenv("ORDER_AUTH_MODE", "required")
    monkeypatch.setenv("ORDER_AUTH_JWKS_FILE", str(tmp_path / "jwks.json"))
    monkeypatch.setenv("ORDER_AUTH_ISSUER", "eshop-dev")
    monkeypatch.setenv("ORDER_AUTH_AUDIENCE", "orders")
    monkeypatch.setenv("ORDER_PRODUCT_TOKEN_FILE", str(tmp_path / "token"))

    product, order = ProductSettings(), OrderSettings()

    assert product.auth_jwks_url == "https://idp.example/.well-known/jwks.json"
    assert product.auth_clock_skew_s == 5.0
    assert product.auth_stock_client_ids == frozenset({"spiffe://eshop/order", "order.internal"})
    assert (order.auth_jwks_file, order.auth_audience) == (tmp_path / "jwks.json", "orders")
    assert order.product_token_file == tmp_path / "token"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AUTH_MODE": "required", "AUTH_ISSUER": "i"},
            "{P}AUTH_MODE=required needs {P}AUTH_JWKS_URL or {P}AUTH_JWKS_FILE (the token signing keys)",
        ),
        (
            {"AUTH_MODE": "required", "AUTH_JWKS_FILE": "/k.json"},
            "{P}AUTH_MODE=required needs {P}AUTH_ISSUER (the identity provider's 'iss')",
        ),
        (
            {"AUTH_JWKS_URL": "https://a/j", "AUTH_JWKS_FILE": "/k.json"},
            "{P}AUTH_JWKS_URL and {P}AUTH_JWKS_FILE: set one of them, not both",
        ),
        (
            {"AUTH_JWKS_URL": "file:///etc/passwd"},
            "{P}AUTH_JWKS_URL='file:///etc/passwd': must be an http:// or https:// URL",
        ),
        ({"AUTH_MODE": "on"}, "{P}AUTH_MODE='on': must be one of off, required"),
        ({"AUTH_CLOCK_SKEW_S": "-1"}, "{P}AUTH_CLOCK_SKEW_S='-1': must be a number from 0 to 300"),
    ],
    ids=["no key source", "no issuer", "two key sources", "not http", "unknown mode", "negative skew"],
)
@pytest.mark.parametrize("service", [ProductSettings, OrderSettings])
def test_incomplete_or_wrong_auth_settings_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    service: type[ProductSettings | OrderSettings],
    env: dict[str, str],
    message: str,
) -> None:
    prefix = "PRODUCT_" if service is ProductSettings else "ORDER_"
    for name, value in env.items():
        monkeypatch.setenv(prefix + name, value)

    with pytest.raises(configuration.ConfigurationError) as refused:
        configuration.load(service)

    assert refused.value.problems == [message.replace("{P}", prefix)]
