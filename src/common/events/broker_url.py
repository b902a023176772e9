"""Where a service publishes its events, as its start-up line says it (the password never shown)."""

from __future__ import annotations

from common.redaction import redacted
from common.settings import ServerSettings


def events_destination(settings: ServerSettings) -> str:
    """Where it publishes: "off", or the exchange on the broker."""
    if not settings.events_broker_url:
        return "off"
    return f"exchange {settings.events_exchange} on {redacted(settings.events_broker_url)}"
