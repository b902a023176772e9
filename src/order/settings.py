"""Order service settings: ``ORDER_*`` environment variables (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from common.configuration import variable
from common.settings import ServerSettings


class OrderSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_", extra="ignore")

    listen_address: str = "127.0.0.1:50052"
    # Prometheus scrape endpoint (http://host:port/metrics); empty: none.
    metrics_address: str = "127.0.0.1:9465"
    database_url: str = "sqlite:///.eshop/order.db"
    auth_audience: str = "eshop-order"
    product_service_target: str = "127.0.0.1:50051"
    product_call_timeout_s: float = Field(default=5.0, gt=0)
    # gRPC caps maxAttempts at 5 (the first try included).
    product_retry_max_attempts: int = Field(default=4, ge=2, le=5)
    product_retry_initial_backoff_s: float = Field(default=0.1, gt=0)
    product_retry_max_backoff_s: float = Field(default=1.0, gt=0)
    product_retry_backoff_multiplier: float = Field(default=2.0, ge=1)
    # After losing the connection, the channel tries again after the initial pause, then after pauses
    # growing 1.6 times (jittered) up to the max. gRPC's own max, 120 s, left releases waiting up to two
    # minutes after a long outage of the Product service.
    product_reconnect_initial_backoff_s: float = Field(default=1.0, gt=0)
    product_reconnect_max_backoff_s: float = Field(default=5.0, gt=0)
    # TLS to the Product service: a CA file turns it on; a client certificate and key add mutual TLS.
    product_tls_ca_file: Path | None = None
    product_tls_cert_file: Path | None = None
    product_tls_key_file: Path | None = None
    # Name to verify in the Product service's certificate when it differs from the target's host.
    product_tls_server_name: str | None = None
    # The release tried on CancelOrder's own path, right after its commit, takes at most this long (and
    # never more than half of the caller's remaining time); the outbox worker owns it after that.
    release_attempt_timeout_s: float = Field(default=0.3, gt=0, le=60)
    # A token the Order service presents to the Product service (its own identity, never a customer's),
    # re-read when the file changes; an alternative to the client certificate.
    product_token_file: Path | None = None
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)
    outbox_initial_backoff_s: float = Field(default=0.5, gt=0)
    outbox_max_backoff_s: float = Field(default=10.0, gt=0)
    # A PENDING order older than this was abandoned by a crash (longer than any CreateOrder call takes).
    reconcile_pending_after_s: float = Field(default=30.0, gt=0)
    reconcile_interval_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _reconnect_backoff(self) -> OrderSettings:
        if self.product_reconnect_initial_backoff_s > self.product_reconnect_max_backoff_s:
            initial = variable(self, "product_reconnect_initial_backoff_s")
            longest = variable(self, "product_reconnect_max_backoff_s")
            raise ValueError(f"{initial} must not be more than {longest}")
        return self
