"""Product service settings: ``PRODUCT_*`` environment variables (docs/configuration.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from common.settings import ServerSettings


class ProductSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="PRODUCT_", extra="ignore")

    listen_address: str = "127.0.0.1:50051"
    database_url: str = "sqlite:///.eshop/product.db"
    auth_audience: str = "eshop-product"
    # The Order service's client-certificate identities (SAN URIs / DNS names, comma-separated) that may
    # reserve and release stock without a token. Empty: only the stock:reserve scope may.
    auth_stock_client_ids: Annotated[frozenset[str], NoDecode] = frozenset()

    @field_validator("auth_stock_client_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    # Prometheus scrape endpoint (http://host:port/metrics); empty: none.
    metrics_address: str = "127.0.0.1:9464"
