"""Broker URLs as they may be shown: never with their password (log lines, start-up lines)."""

from __future__ import annotations

from yarl import URL

from common.settings import ServerSettings


def redacted(url: str) -> str:
    """The URL without its password."""
    try:
        parsed = URL(url)
    except ValueError:
        return "(not a URL)"
    return str(parsed.with_password("***")) if parsed.password else url


def events_destination(settings: ServerSettings) -> str:
    """Where a service publishes, for its start-up line: "off", or the exchange on the broker."""
    if not settings.events_broker_url:
        return "off"
    return f"exchange {settings.events_exchange} on {redacted(settings.events_broker_url)}"
