"""Settings shared by both services, read from the environment (pydantic-settings)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from yarl import URL

from common.configuration import shown, variable
from common.host_port import parse_host_port

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
DATABASE_BACKENDS = ("sqlite", "postgresql")
EXCHANGE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,255}")


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESHOP_", extra="ignore")

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError("must be one of " + ", ".join(LOG_LEVELS))
        return value.strip().upper()


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
    # A connection older than this is closed (GOAWAY, then the grace for calls in flight): clients
    # reconnect and re-resolve DNS, so replicas added later receive calls too.
    max_connection_age_s: float = Field(default=300.0, gt=0)
    max_connection_age_grace_s: float = Field(default=30.0, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    # False when a release step runs `eshop <service> migrate` before the replicas start: the service then
    # refuses to start on a schema that is not at the newest migration instead of changing it itself.
    migrate_on_start: bool = True
    # TLS: serve over TLS when a certificate and key are given; with a client CA as well, callers must
    # present a certificate signed by it (mutual TLS).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # Authentication: bearer JWTs verified against an identity provider's JWKS URL or a local
    # JWKS/PEM file; the audience defaults per service.
    auth_mode: Literal["off", "required"] = "off"
    auth_jwks_url: str | None = None
    auth_jwks_file: Path | None = None
    auth_issuer: str | None = None
    auth_audience: str
    auth_clock_skew_s: float = Field(default=30.0, ge=0, le=300)
    # Prometheus scrape endpoint ``host:port`` or ``[v6]:port`` (each service sets its default); empty: none.
    metrics_address: str = ""
    # Integration events (docs/events.md): published to this RabbitMQ (amqp:// or amqps://); empty: no
    # event is written or published. The exchange is a durable topic exchange the service declares.
    events_broker_url: str = ""
    events_exchange: str = "eshop.events"
    # Connecting, and each publication's confirmation, take at most this long.
    events_publish_timeout_s: float = Field(default=5.0, gt=0, le=60)
    events_poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    # Retries of a publication, and connection attempts while the broker is away: capped exponential
    # backoff with jitter. The cap keeps what waited published within 30 s of the broker being back.
    events_initial_backoff_s: float = Field(default=0.5, gt=0, le=20)
    events_max_backoff_s: float = Field(default=10.0, gt=0, le=20)
    # Published events are kept this long (then deleted); unpublished ones are never deleted.
    events_retention_s: float = Field(default=86400.0, ge=0)

    @field_validator("events_broker_url")
    @classmethod
    def _events_broker_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        try:
            parsed = URL(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.scheme not in ("amqp", "amqps") or not parsed.host:
            raise ValueError(
                "must be a RabbitMQ URL, amqp://user:password@host:5672/vhost or amqps://…, "
                "or empty for no events"
            )
        return value

    @field_validator("events_exchange")
    @classmethod
    def _events_exchange(cls, value: str) -> str:
        if not EXCHANGE_NAME.fullmatch(value) or value.startswith("amq."):
            raise ValueError(
                "must be 1-255 of letters, digits, '.', '_', ':' and '-', not starting with 'amq.' "
                "(RabbitMQ's own)"
            )
        return value

    @field_validator("metrics_address")
    @classmethod
    def _metrics_address(cls, value: str) -> str:
        if value:
            try:
                parse_host_port(value)
            except ValueError as error:
                raise ValueError(f"{error}; or empty for no metrics endpoint") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in DATABASE_BACKENDS:
            raise ValueError(
                "must be a database URL: sqlite:///path/to/file.db or postgresql+psycopg://user:password@host/db"
            )
        return value

    @model_validator(mode="after")
    def _events_backoff(self) -> ServerSettings:
        if self.events_initial_backoff_s > self.events_max_backoff_s:
            initial, longest = (
                variable(self, f) for f in ("events_initial_backoff_s", "events_max_backoff_s")
            )
            raise ValueError(f"{initial} must not be more than {longest}")
        return self

    @model_validator(mode="after")
    def _tls_pairs(self) -> ServerSettings:
        cert, key, ca = (variable(self, f) for f in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"))
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(f"{cert} and {key} must be set together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError(f"{ca} needs {cert} and {key}")
        return self

    @model_validator(mode="after")
    def _auth_key_source(self) -> ServerSettings:
        mode, url, file, issuer = (
            variable(self, f) for f in ("auth_mode", "auth_jwks_url", "auth_jwks_file", "auth_issuer")
        )
        if self.auth_jwks_url is not None and self.auth_jwks_file is not None:
            raise ValueError(f"{url} and {file}: set one of them, not both")
        if self.auth_jwks_url is not None and not self.auth_jwks_url.startswith(("http://", "https://")):
            raise ValueError(f"{url}={shown(self.auth_jwks_url)}: must be an http:// or https:// URL")
        if self.auth_mode == "required":
            if self.auth_jwks_url is None and self.auth_jwks_file is None:
                raise ValueError(f"{mode}=required needs {url} or {file} (the token signing keys)")
            if not self.auth_issuer:
                raise ValueError(f"{mode}=required needs {issuer} (the identity provider's 'iss')")
        return self
