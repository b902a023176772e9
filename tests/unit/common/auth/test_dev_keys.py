"""Dev keys: made on first use (private key for its owner only), reused after; minted tokens verify."""

from __future__ import annotations

import stat
from pathlib import Path

from common.auth.dev_keys import DEV_ISSUER, ensure_dev_keys, mint_token
from common.auth.key_sources import StaticKeys
from common.auth.principal import AuthMethod, Principal
from common.auth.tokens import TokenVerifier


def test_dev_keys_are_made_once_with_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    keys = ensure_dev_keys(tmp_path / ".eshop")

    assert stat.S_IMODE(keys.private_key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.jwks_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".eshop").stat().st_mode) == 0o700
    assert b"PRIVATE" not in keys.jwks_file.read_bytes()
    assert keys.kid
    again = ensure_dev_keys(tmp_path / ".eshop")
    assert again == keys
    assert again.private_key_file.read_bytes() == keys.private_key_file.read_bytes()


def test_each_directory_gets_its_own_key(tmp_path: Path) -> None:
    one, two = ensure_dev_keys(tmp_path / "a"), ensure_dev_keys(tmp_path / "b")

    assert one.kid != two.kid
    assert one.private_key_file.read_bytes() != two.private_key_file.read_bytes()


def test_a_minted_token_verifies_against_the_dev_jwks(tmp_path: Path) -> None:
    keys = ensure_dev_keys(tmp_path)
    token = mint_token(
        keys, subject="customer-1", scopes=["orders:admin", "catalog:write"], audience="eshop-order"
    )
    verifier = TokenVerifier(
        StaticKeys.from_file(keys.jwks_file), issuer=DEV_ISSUER, audience="eshop-order", leeway_s=0
    )

    assert verifier.verify(f"Bearer {token}") == Principal(
        "customer-1", frozenset({"orders:admin", "catalog:write"}), AuthMethod.BEARER_TOKEN
    )
