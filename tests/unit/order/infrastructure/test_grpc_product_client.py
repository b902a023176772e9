"""The Product client's channel configuration: built-in retries of UNAVAILABLE only, throttled; a
bounded reconnect backoff."""

from __future__ import annotations

import json

import pytest

from order.infrastructure.grpc_product_client import Reconnect, RetryPolicy, service_config
from order.settings import OrderSettings


def test_service_config_declares_the_retry_policy() -> None:
    config = service_config(
        RetryPolicy(max_attempts=3, initial_backoff_s=0.1, max_backoff_s=1.5, backoff_multiplier=2.0)
    )

    [method] = config["methodConfig"]
    assert method["name"] == [{"service": "eshop.product.v1.ProductService"}]
    assert method["retryPolicy"] == {
        "maxAttempts": 3,
        "initialBackoff": "0.1s",
        "maxBackoff": "1.5s",
        "backoffMultiplier": 2.0,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    throttling = config["retryThrottling"]
    assert throttling["maxTokens"] > 0
    assert 0 < throttling["tokenRatio"] <= 1
    json.dumps(config)  # it goes to the channel as JSON


def test_defaults_match_the_contract() -> None:
    settings = OrderSettings()
    policy = RetryPolicy()

    assert (settings.product_retry_max_attempts, policy.max_attempts) == (4, 4)
    assert (settings.product_retry_initial_backoff_s, policy.initial_backoff_s) == (0.1, 0.1)
    assert (settings.product_retry_backoff_multiplier, policy.backoff_multiplier) == (2.0, 2.0)
    assert (settings.product_retry_max_backoff_s, policy.max_backoff_s) == (1.0, 1.0)
    assert settings.product_call_timeout_s == 5.0


def test_the_reconnect_backoff_is_bounded_and_goes_to_the_channel_in_milliseconds() -> None:
    settings = OrderSettings()
    assert (settings.product_reconnect_initial_backoff_s, settings.product_reconnect_max_backoff_s) == (1, 5)
    assert Reconnect(0.25, 5).options() == [
        ("grpc.initial_reconnect_backoff_ms", 250),
        ("grpc.max_reconnect_backoff_ms", 5000),
    ]
    with pytest.raises(ValueError) as refused:
        OrderSettings(product_reconnect_initial_backoff_s=10, product_reconnect_max_backoff_s=5)
    initial, longest = "ORDER_PRODUCT_RECONNECT_INITIAL_BACKOFF_S", "ORDER_PRODUCT_RECONNECT_MAX_BACKOFF_S"
    assert f"{initial} must not be more than {longest}" in str(refused.value)
