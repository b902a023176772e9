"""The CLI's side of authentication: ``--token`` / ``ESHOP_TOKEN`` on every client command,
never printed; ``eshop dev-token`` from the dev key ``eshop up --auth`` makes; ``eshop up --auth`` itself.

The services' own refusals are tested in tests/integration/auth/; here a recording server stands in for
them, so what the CLI sends is seen exactly.
"""

from __future__ import annotations

import json
import re
import signal
import stat
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import jwt
import pytest

from common.auth.dev_keys import DEV_ISSUER, JWKS_FILE, PRIVATE_KEY_FILE, ensure_dev_keys
from common.auth.key_sources import StaticKeys
from common.auth.tokens import TokenVerifier
from common.errors import Unauthenticated
from tests.support.cli import STOP_TIMEOUT_S, cli_env, eshop_up, run_eshop
from tests.support.ports import free_address

CUSTOMER = "3f0c8a9e-6b1d-4c55-9a57-1f2e3d4c5b6a"
PRODUCT_ID = "0b7f8c52-3c2e-4f0e-8d6a-0e9a9d2d4a11"
ORDER_ID = "5d9e1f2a-8b7c-4d6e-9f0a-1b2c3d4e5f60"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLW5vdC1jaGVja2VkLWhlcmU"


@dataclass
class RecordingServer:
    """Answers every call UNAUTHENTICATED, as a service with auth required does without a token, after
    noting the ``authorization`` metadata it received."""

    address: str = ""
    received: list[tuple[str, str | None]] = field(default_factory=list)

    def handler(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
            sent = dict(context.invocation_metadata()).get("authorization")
            self.received.append((details.method, sent if isinstance(sent, str) else None))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing credentials (recording server)")

        return grpc.unary_unary_rpc_method_handler(refuse)


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    recording = RecordingServer()

    class Generic(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
            return recording.handler(details)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[Generic()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    recording.address = f"127.0.0.1:{port}"
    try:
        yield recording
    finally:
        server.stop(0)


CLIENT_COMMANDS = [
    ("products", "list"),
    ("products", "get", PRODUCT_ID),
    ("products", "create", "--name", "Mug", "--price", "9.50"),
    ("products", "restock", PRODUCT_ID, "--quantity", "3"),
    ("orders", "create", "--customer", CUSTOMER, "--item", f"{PRODUCT_ID}:1"),
    ("orders", "get", ORDER_ID),
    ("orders", "cancel", ORDER_ID),
    ("orders", "list"),
]


@pytest.mark.parametrize("how", ["option", "variable"])
@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=[" ".join(c[:2]) for c in CLIENT_COMMANDS])
def test_every_client_command_sends_the_token_as_bearer_metadata_and_never_prints_it(
    recorder: RecordingServer, command: tuple[str, ...], how: str
) -> None:
    addresses = ("--product-address", recorder.address, "--order-address", recorder.address)
    if how == "option":
        result = run_eshop(*command, *addresses, "--token", TOKEN)
    else:
        result = run_eshop(*command, *addresses, env=cli_env(ESHOP_TOKEN=TOKEN))

    assert recorder.received and all(sent == f"Bearer {TOKEN}" for _, sent in recorder.received)
    assert result.returncode == 4, result.stderr  # refused: not authenticated
    assert "error: UNAUTHENTICATED: missing credentials" in result.stderr
    assert "hint: pass --token or set ESHOP_TOKEN" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert TOKEN.split(".")[2] not in result.stdout + result.stderr


def test_without_a_token_no_authorization_is_sent(recorder: RecordingServer) -> None:
    result = run_eshop("products", "list", "--product-address", recorder.address)

    assert recorder.received == [("/eshop.product.v1.ProductService/ListProducts", None)]
    assert result.returncode == 4


def test_health_sends_the_token_too(recorder: RecordingServer) -> None:
    run_eshop(
        "health", "--product-address", recorder.address, "--order-address", recorder.address, "--token", TOKEN
    )

    assert [sent for _, sent in recorder.received] == [f"Bearer {TOKEN}"] * 2


@pytest.mark.parametrize(
    "bad", ["two words", "line\nbreak", "", "tök"], ids=["space", "newline", "empty", "non-ascii"]
)
def test_a_malformed_token_is_a_usage_error_that_does_not_repeat_it(bad: str) -> None:
    result = run_eshop("products", "list", "--token", bad)

    assert result.returncode == 2
    assert "argument --token: not a bearer token" in result.stderr
    if bad:
        assert bad not in result.stderr


def test_orders_create_defaults_the_customer_to_the_token_subject(recorder: RecordingServer) -> None:
    token = jwt.encode({"sub": CUSTOMER}, "k" * 32, algorithm="HS256")  # the CLI never verifies it

    result = run_eshop(
        "orders", "create", "--order-address", recorder.address, "--item", f"{PRODUCT_ID}:1", "--token", token
    )

    assert f"customer id: {CUSTOMER} (the token's subject" in result.stderr


# --- eshop dev-token ---------------------------------------------------------------------------------------


def dev_token(workdir: Path, *args: str) -> str:
    result = run_eshop("dev-token", *args, cwd=workdir)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def verifier(workdir: Path, audience: str) -> TokenVerifier:
    keys = StaticKeys.from_file(workdir / ".eshop" / JWKS_FILE)
    return TokenVerifier(keys, issuer=DEV_ISSUER, audience=audience, leeway_s=0)


def test_dev_token_without_a_dev_key_says_to_run_up_auth_and_makes_none(tmp_path: Path) -> None:
    result = run_eshop("dev-token", "--sub", CUSTOMER, cwd=tmp_path)

    assert result.returncode == 1
    assert "no dev key under ./.eshop/; run `eshop up --auth` here first" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / ".eshop").exists()


def test_dev_token_mints_what_the_services_verify(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path / ".eshop")

    customer = dev_token(tmp_path, "--sub", CUSTOMER)
    staff = dev_token(tmp_path, "--sub", "staff-1", "--scope", "catalog:write orders:admin", "--scope", "x")
    product_only = dev_token(tmp_path, "--sub", "svc", "--audience", "product", "--ttl", "60")

    for audience in ("eshop-product", "eshop-order"):
        principal = verifier(tmp_path, audience).verify(f"Bearer {customer}")
        assert (principal.subject, principal.scopes) == (CUSTOMER, frozenset())
    assert verifier(tmp_path, "eshop-order").verify(f"Bearer {staff}").scopes == {
        "catalog:write",
        "orders:admin",
        "x",
    }
    assert verifier(tmp_path, "eshop-product").verify(f"Bearer {product_only}").subject == "svc"
    with pytest.raises(Unauthenticated, match="wrong audience"):
        verifier(tmp_path, "eshop-order").verify(f"Bearer {product_only}")
    claims = jwt.decode(product_only, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


@pytest.mark.parametrize("ttl", ["0", "-5", "soon", str(8 * 24 * 3600)])
def test_dev_token_refuses_a_bad_lifetime(tmp_path: Path, ttl: str) -> None:
    ensure_dev_keys(tmp_path / ".eshop")

    result = run_eshop("dev-token", "--sub", CUSTOMER, "--ttl", ttl, cwd=tmp_path)

    assert result.returncode == 2
    assert "argument --ttl" in result.stderr


# --- eshop up --auth ---------------------------------------------------------------------------------------


@pytest.fixture
def up_env() -> tuple[dict[str, str], str, str]:
    product, order = free_address(), free_address()
    env = cli_env(
        PRODUCT_LISTEN_ADDRESS=product, ORDER_LISTEN_ADDRESS=order, ORDER_PRODUCT_SERVICE_TARGET=product
    )
    return env, product, order


def test_up_auth_makes_a_private_dev_key_once_a_fresh_service_token_and_says_how_to_mint(
    tmp_path: Path, up_env: tuple[dict[str, str], str, str]
) -> None:
    env, product, order = up_env
    dev = tmp_path / ".eshop"

    with eshop_up(tmp_path, env, product, order, "--auth") as proc:
        summary = (tmp_path / "up.out").read_text()
        assert "authentication required" in summary
        assert "seeded 5 demo products" in summary  # the seed presented a catalog:write token
        hint = re.search(r"export ESHOP_TOKEN=\$\(eshop dev-token --sub ([0-9a-f-]{36})\)", summary)
        assert hint is not None
        assert stat.S_IMODE((dev / PRIVATE_KEY_FILE).stat().st_mode) == 0o600
        assert stat.S_IMODE((dev / "order-service.token").stat().st_mode) == 0o600
        service = verifier(tmp_path, "eshop-product").verify(
            "Bearer " + (dev / "order-service.token").read_text().strip()
        )
        assert service.scopes == {"stock:reserve"}
        first_kid = json.loads((dev / JWKS_FILE).read_text())["keys"][0]["kid"]
        first_service_token = (dev / "order-service.token").read_text()

        customer = dev_token(tmp_path, "--sub", hint.group(1))
        product_id = re.findall(r"eshop orders create --item (\S+):2", summary)[0]
        created = run_eshop(
            "orders", "create", "--item", f"{product_id}:2", "--json", env=env | {"ESHOP_TOKEN": customer}
        )
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["customer_id"] == hint.group(1)
        assert json.loads(created.stdout)["status"] == "ORDER_STATUS_CONFIRMED"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 0

    with eshop_up(tmp_path, env, product, order, "--auth") as proc:
        assert json.loads((dev / JWKS_FILE).read_text())["keys"][0]["kid"] == first_kid  # the key is kept
        assert (dev / "order-service.token").read_text() != first_service_token  # the token is re-minted
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 0
