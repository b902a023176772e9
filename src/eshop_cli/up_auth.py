"""``eshop up --auth``: both services with authentication required, trusting the dev key under ``./.eshop/``.

The Order service gets a token of its own (scope ``stock:reserve``) in a file it re-reads, minted at start
and again before it expires; the demo catalogue is seeded with a short ``catalog:write`` token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from common.auth.dev_keys import DEV_ISSUER, DevKeys, ensure_dev_keys, mint_token, write_token_file
from eshop_cli.dev_token import DEV_KEYS_DIRECTORY, audiences

ORDER_SERVICE_SUBJECT = "eshop-order-service"
ORDER_SERVICE_SCOPE = "stock:reserve"
SERVICE_TOKEN_FILE = "order-service.token"
SERVICE_TOKEN_TTL_S = 3600
SEED_SUBJECT = "eshop-up-seed"
SEED_SCOPE = "catalog:write"
SEED_TOKEN_TTL_S = 300


@dataclass
class UpAuth:
    keys: DevKeys
    service_token_file: Path
    _minted_at: float = field(default=0.0)

    def env(self) -> dict[str, str]:
        """The children's variables: auth required on both, the dev JWKS, the Order service's token."""
        jwks = str(self.keys.jwks_file.resolve())
        env = {"ORDER_PRODUCT_TOKEN_FILE": str(self.service_token_file.resolve())}
        for prefix in ("PRODUCT", "ORDER"):
            env |= {
                f"{prefix}_AUTH_MODE": "required",
                f"{prefix}_AUTH_JWKS_FILE": jwks,
                f"{prefix}_AUTH_ISSUER": DEV_ISSUER,
            }
        return env

    def mint_service_token(self) -> None:
        token = mint_token(
            self.keys,
            subject=ORDER_SERVICE_SUBJECT,
            scopes=[ORDER_SERVICE_SCOPE],
            audience=audiences("product"),
            ttl_s=SERVICE_TOKEN_TTL_S,
        )
        write_token_file(self.service_token_file, token)
        self._minted_at = time.monotonic()

    def refresh_service_token(self) -> None:
        """Re-mint once half the token's life is gone (the Order service re-reads the file)."""
        if time.monotonic() - self._minted_at >= SERVICE_TOKEN_TTL_S / 2:
            self.mint_service_token()

    def seed_token(self) -> str:
        return mint_token(
            self.keys,
            subject=SEED_SUBJECT,
            scopes=[SEED_SCOPE],
            audience=audiences("product"),
            ttl_s=SEED_TOKEN_TTL_S,
        )


def prepare(directory: Path = DEV_KEYS_DIRECTORY) -> UpAuth:
    """The dev key (made on first use, reused after), and a fresh service token."""
    auth = UpAuth(ensure_dev_keys(directory), directory / SERVICE_TOKEN_FILE)
    auth.mint_service_token()
    return auth
