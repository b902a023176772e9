"""Settings shared by both services, read from the environment (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESHOP_", extra="ignore")

    log_level: str = "INFO"
    log_json: bool = False


class ServerSettings(BaseSettings):
    """Knobs every gRPC server has; each service subclasses this with its own env prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    listen_address: str
    database_url: str
    max_workers: int = Field(default=10, ge=1, le=256)
    # Beyond this many RPCs in flight the server answers RESOURCE_EXHAUSTED instead of queueing forever.
    max_concurrent_rpcs: int = Field(default=200, ge=1)
    max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_grace_s: float = Field(default=5.0, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
