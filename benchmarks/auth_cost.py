"""``python -m benchmarks.auth_cost``: the CPU an order costs the two services with authentication off and
with it required (the budget: at most 5 % more).

Required means what a deployment runs: the customer sends the same token on every call (verified once,
then found in the verified-token cache), the Order service presents its own token from its file, the key
is a local JWKS file. Each variant runs in its own pair of server processes; only their CPU time counts
(user + system, all threads, from /proc), not this process's load. Variants alternate, and each figure
is the median of ``--rounds``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc

from benchmarks.services import ServerProcess, free_port, process_cpu_s, spawn, stop_all
from common.auth.dev_keys import DEV_ISSUER, DevKeys, ensure_dev_keys, mint_token
from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc

AUDIENCES = ["eshop-product", "eshop-order"]


@dataclass(frozen=True)
class Round:
    auth: bool
    cpu_ms_per_order: float
    orders_per_s: float


def _env(workdir: Path, keys: DevKeys, auth: bool, product_port: int, order_port: int) -> dict[str, str]:
    env = {
        "PRODUCT_LISTEN_ADDRESS": f"127.0.0.1:{product_port}",
        "PRODUCT_DATABASE_URL": f"sqlite:///{workdir}/product.db",
        "ORDER_LISTEN_ADDRESS": f"127.0.0.1:{order_port}",
        "ORDER_DATABASE_URL": f"sqlite:///{workdir}/order.db",
        "ORDER_PRODUCT_SERVICE_TARGET": f"127.0.0.1:{product_port}",
    }
    if auth:
        service_token = workdir / "order-service.token"
        service_token.write_text(
            mint_token(
                keys, subject="eshop-order-service", scopes=["stock:reserve"], audience="eshop-product"
            )
        )
        env["ORDER_PRODUCT_TOKEN_FILE"] = str(service_token)
        for prefix in ("PRODUCT", "ORDER"):
            env |= {
                f"{prefix}_AUTH_MODE": "required",
                f"{prefix}_AUTH_JWKS_FILE": str(keys.jwks_file),
                f"{prefix}_AUTH_ISSUER": DEV_ISSUER,
            }
    return env


def _start(workdir: Path, keys: DevKeys, auth: bool) -> list[ServerProcess]:
    product_port, order_port = free_port(), free_port()
    env = _env(workdir, keys, auth, product_port, order_port)
    servers = [
        spawn(
            "product",
            "from product.server import serve; serve()",
            env,
            env["PRODUCT_LISTEN_ADDRESS"],
            workdir,
        ),
        spawn("order", "from order.server import serve; serve()", env, env["ORDER_LISTEN_ADDRESS"], workdir),
    ]
    try:
        for server in servers:
            server.wait_until_serving()
    except BaseException:
        stop_all(servers)
        raise
    return servers


def _cpu_s(servers: Sequence[ServerProcess]) -> float:
    total = 0.0
    for server in servers:
        used = process_cpu_s(server.pid)
        if used is None:
            raise RuntimeError("process CPU time needs /proc (Linux)")
        total += used
    return total


def _run_round(keys: DevKeys, auth: bool, orders: int, warmup: int, concurrency: int) -> Round:
    with tempfile.TemporaryDirectory(prefix="eshop-auth-cost-") as directory:
        workdir = Path(directory)
        servers = _start(workdir, keys, auth)
        try:
            customer = str(uuid.uuid4())
            customer_token = mint_token(keys, subject=customer, audience=AUDIENCES)
            staff_token = mint_token(keys, subject="bench", scopes=["catalog:write"], audience=AUDIENCES)

            def auth_md(token: str) -> tuple[tuple[str, str], ...]:
                return (("authorization", f"Bearer {token}"),) if auth else ()

            with (
                grpc.insecure_channel(servers[0].address) as product_channel,
                grpc.insecure_channel(servers[1].address) as order_channel,
            ):
                product: product_pb2.Product = product_pb2_grpc.ProductServiceStub(
                    product_channel
                ).CreateProduct(
                    product_pb2.CreateProductRequest(name="Bench", price="1.00", stock_quantity=10_000_000),
                    timeout=10,
                    metadata=auth_md(staff_token),
                )
                stub = order_pb2_grpc.OrderServiceStub(order_channel)
                request = order_pb2.CreateOrderRequest(
                    customer_id=customer,
                    items=[order_pb2.OrderLine(product_id=product.product_id, quantity=1)],
                )

                def one(_: int) -> None:
                    order: order_pb2.Order = stub.CreateOrder(
                        request, timeout=30, metadata=auth_md(customer_token)
                    )
                    assert order.status == order_pb2.ORDER_STATUS_CONFIRMED

                with ThreadPoolExecutor(max_workers=concurrency) as pool:
                    list(pool.map(one, range(warmup)))
                    cpu_before, started = _cpu_s(servers), time.perf_counter()
                    list(pool.map(one, range(orders)))
                    cpu_after, elapsed = _cpu_s(servers), time.perf_counter() - started
        finally:
            stop_all(servers)
    return Round(auth, (cpu_after - cpu_before) * 1000 / orders, orders / elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auth_cost", description=__doc__)
    parser.add_argument("--orders", type=int, default=1500, help="measured orders per round (default 1500)")
    parser.add_argument("--warmup", type=int, default=200, help="orders before measuring (default 200)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant, alternating (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eshop-auth-keys-") as directory:
        keys = ensure_dev_keys(Path(directory))
        rounds = [
            _run_round(keys, auth, args.orders, args.warmup, args.concurrency)
            for _ in range(args.rounds)
            for auth in (False, True)
        ]
    for r in rounds:
        variant = "required" if r.auth else "off"
        print(f"auth {variant:<8}  {r.cpu_ms_per_order:6.3f} ms CPU/order  {r.orders_per_s:7.1f} orders/s")
    off = statistics.median(r.cpu_ms_per_order for r in rounds if not r.auth)
    required = statistics.median(r.cpu_ms_per_order for r in rounds if r.auth)
    change = 100 * (required / off - 1)
    print(f"median CPU per order: off {off:.3f} ms, required {required:.3f} ms, {change:+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
