"""Product service settings: ``PRODUCT_*`` environment variables (README.md, "Configuration")."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import ServerSettings


class ProductSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="PRODUCT_", extra="ignore")

    listen_address: str = "127.0.0.1:50051"
    database_url: str = "sqlite:///.eshop/product.db"
