"""The Product client's channel configuration: built-in retries of UNAVAILABLE only, throttled."""

from __future__ import annotations

import json

from order.infrastructure.grpc_product_client import RetryPolicy, service_config
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
