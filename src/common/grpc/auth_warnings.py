"""Start-up WARNINGs for authentication settings that work but are surely a mistake.

Not refusals: each has a legitimate use somewhere (a lab network, an operator who turns auth on later),
so the service starts and says, once, what it is doing and how to say otherwise. Beside
``common.grpc.exposure`` (auth off on a reachable address); both run once, before the server starts.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from loguru import logger

from common.configuration import variable
from common.grpc.exposure import is_loopback
from common.settings import ServerSettings


def auth_setting_warnings(settings: ServerSettings) -> list[str]:
    """One sentence per surely-mistaken authentication setting (none: an empty list)."""
    warnings: list[str] = []
    mode, url, file, issuer = (
        variable(settings, f) for f in ("auth_mode", "auth_jwks_url", "auth_jwks_file", "auth_issuer")
    )
    keys_given = settings.auth_jwks_url is not None or settings.auth_jwks_file is not None
    if "auth_mode" not in settings.model_fields_set and keys_given and settings.auth_issuer:
        warnings.append(
            f"{mode} is not set, so authentication is off although {url if settings.auth_jwks_url else file} "
            f"and {issuer} are: anyone who reaches the service may call every method "
            f"(set {mode}=required, or {mode}=off to say it is meant)"
        )
    if settings.auth_mode == "required" and _plain_http_beyond_loopback(settings.auth_jwks_url):
        warnings.append(
            f"{url} is plain http:// to another host: anyone on the path can swap the signing keys "
            "and sign tokens of their own (use https://)"
        )
    return warnings


def warn_about_auth_settings(settings: ServerSettings, *more: str) -> list[str]:
    """Log each warning (``more``: the service's own) once; returns them."""
    warnings = [*auth_setting_warnings(settings), *more]
    for warning in warnings:
        logger.warning("{}", warning)
    return warnings


def _plain_http_beyond_loopback(url: str | None) -> bool:
    if url is None:
        return False
    parts = urlsplit(url)
    return parts.scheme == "http" and not is_loopback(f"{parts.hostname or ''}:0")
