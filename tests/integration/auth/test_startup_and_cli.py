"""Authentication as a person meets it: a service refusing to start on unusable keys or token file (exit 2,
the variable named), and ``eshop up --auth`` enforcing what ``eshop dev-token`` grants."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import STOP_TIMEOUT_S, cli_env, eshop_up, run_eshop
from tests.support.identity_provider import serving_jwks
from tests.support.ports import free_address
from tests.support.signing import hmac_jwk, weak_rsa_key

EPHEMERAL = {"PRODUCT_LISTEN_ADDRESS": "127.0.0.1:0", "ORDER_LISTEN_ADDRESS": "127.0.0.1:0"}
TIMEOUT_S = 30  # a process that starts serving instead of refusing fails the test at this timeout


@pytest.mark.parametrize("service", ["product", "order"])
def test_a_missing_key_file_stops_the_service_at_start_naming_the_variable(
    tmp_path: Path, service: str
) -> None:
    prefix = service.upper()
    missing = tmp_path / "no-such-jwks.json"
    env = cli_env(
        **EPHEMERAL,
        **{
            f"{prefix}_DATABASE_URL": f"sqlite:///{tmp_path}/{service}.db",
            f"{prefix}_AUTH_MODE": "required",
            f"{prefix}_AUTH_JWKS_FILE": str(missing),
            f"{prefix}_AUTH_ISSUER": "https://idp.test",
        },
    )

    result = run_eshop(service, "serve", env=env, timeout_s=TIMEOUT_S)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{prefix}_AUTH_JWKS_FILE={str(missing)!r}: No such file or directory"
    ]


UNUSABLE_KEYS: dict[str, tuple[str, Callable[[], list[dict[str, Any]]]]] = {
    "a file of RSA 1024 bits": ("file", lambda: [weak_rsa_key("weak-1").jwk()]),
    "a file of an HMAC secret": ("file", lambda: [hmac_jwk("shared-1")]),
    "a URL serving both": ("url", lambda: [weak_rsa_key("weak-1").jwk(), hmac_jwk("shared-1")]),
    "a URL serving none": ("url", lambda: []),
}


@pytest.mark.parametrize("case", UNUSABLE_KEYS, ids=list(UNUSABLE_KEYS))
def test_a_jwks_without_a_usable_signing_key_stops_the_start_naming_the_variable(
    tmp_path: Path, case: str
) -> None:
    """No token could ever verify: refusing every call for hours is worse than not starting."""
    source, keys = UNUSABLE_KEYS[case]
    document = {"keys": keys()}
    with serving_jwks() as idp:
        idp.document = document
        if source == "file":
            (tmp_path / "jwks.json").write_text(json.dumps(document))
            variable, value = "PRODUCT_AUTH_JWKS_FILE", str(tmp_path / "jwks.json")
        else:
            variable, value = "PRODUCT_AUTH_JWKS_URL", idp.url
        env = cli_env(
            **EPHEMERAL,
            PRODUCT_DATABASE_URL=f"sqlite:///{tmp_path}/product.db",
            PRODUCT_AUTH_MODE="required",
            PRODUCT_AUTH_ISSUER="https://idp.test",
            **{variable: value},
        )

        result = run_eshop("product", "serve", env=env, timeout_s=TIMEOUT_S)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"{variable}={value!r}: holds no usable signing key")
    if document["keys"]:
        assert "kid=" in line  # which key was left out, and why


def test_an_unreadable_service_token_file_stops_the_order_service_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-token"
    env = cli_env(
        **EPHEMERAL,
        ORDER_DATABASE_URL=f"sqlite:///{tmp_path}/order.db",
        ORDER_PRODUCT_TOKEN_FILE=str(missing),
    )

    result = run_eshop("order", "serve", env=env, timeout_s=TIMEOUT_S)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"ORDER_PRODUCT_TOKEN_FILE={str(missing)!r}: ")


def test_up_auth_refuses_callers_without_a_token_and_honours_dev_token_scopes(tmp_path: Path) -> None:
    product, order = free_address(), free_address()
    env = cli_env(
        PRODUCT_LISTEN_ADDRESS=product, ORDER_LISTEN_ADDRESS=order, ORDER_PRODUCT_SERVICE_TARGET=product
    )

    def eshop(*args: str, token: str | None = None) -> tuple[int, str, str]:
        result = run_eshop(*args, env=env | ({"ESHOP_TOKEN": token} if token else {}), cwd=tmp_path)
        return result.returncode, result.stdout, result.stderr

    with eshop_up(tmp_path, env, product, order, "--auth") as proc:
        summary = (tmp_path / "up.out").read_text()
        product_id = re.findall(r"eshop orders create --item (\S+):2", summary)[0]
        customer = re.findall(r"dev-token --sub (\S+)\)", summary)[0]
        _, customer_token, _ = eshop("dev-token", "--sub", customer)
        _, staff_token, _ = eshop(
            "dev-token", "--sub", "staff-1", "--scope", "catalog:write", "--audience", "product"
        )

        code, _, err = eshop("products", "list")
        assert code == 4 and "UNAUTHENTICATED" in err and "hint: pass --token" in err
        code, _, err = eshop(
            "products", "create", "--name", "Mug", "--price", "9.50", token=customer_token.strip()
        )
        assert code == 4 and "PERMISSION_DENIED" in err and "catalog:write" in err
        code, _, err = eshop(
            "products", "create", "--name", "Mug", "--price", "9.50", token=staff_token.strip()
        )
        assert code == 0, err
        code, out, err = eshop(
            "orders", "create", "--item", f"{product_id}:2", "--json", token=customer_token.strip()
        )
        assert code == 0, err  # the Order service reserved with its own token file, not the customer's
        assert json.loads(out)["status"] == "ORDER_STATUS_CONFIRMED"
        code, _, err = eshop(
            "orders",
            "list",
            "--customer",
            "00000000-0000-4000-8000-000000000000",
            token=customer_token.strip(),
        )
        assert code == 4 and "PERMISSION_DENIED" in err

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 0
