"""The systems under test: the Product and Order services (or a lean reference of them) as
subprocesses, plus catalogue seeding."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc

from benchmarks.services import ServerProcess, free_port, spawn, stop_all
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc

SEED_STOCK = 1_000_000  # far more than any run can order: stock must never run out mid-run
SERVE = "from {service}.server import serve; serve()"
SERVE_COUNTING = "from benchmarks.query_count import serve; serve({service!r})"
SERVE_LEAN = "from benchmarks.lean.{model}_servers import serve; serve({service!r}, {driver!r})"


@dataclass
class EshopStack:
    product: ServerProcess
    order: ServerProcess

    @property
    def servers(self) -> list[ServerProcess]:
        return [self.product, self.order]

    def stop(self) -> None:
        stop_all(self.servers)


def start_stack(
    workdir: Path,
    product_db_url: str | None = None,
    order_db_url: str | None = None,
    count_queries_to: Path | None = None,
) -> EshopStack:
    """Product first (the Order service's reconciler talks to it at start-up), each waited to SERVING.

    With ``count_queries_to`` the services run under ``benchmarks.query_count`` and write their
    per-RPC SQL statistics there when stopped.
    """
    template = SERVE if count_queries_to is None else SERVE_COUNTING
    extra = {} if count_queries_to is None else {"BENCH_QUERY_LOG_DIR": str(count_queries_to)}

    def start(service: str, db_url: str | None, env: dict[str, str]) -> ServerProcess:
        """``service`` on a free port and its own database (SQLite in ``workdir`` by default)."""
        prefix, address = service.upper(), f"127.0.0.1:{free_port()}"
        env = {
            **extra,
            **env,
            f"{prefix}_LISTEN_ADDRESS": address,
            # The Prometheus endpoint on, as deployed, but on a free port: the defaults (9464, 9465) are
            # one per machine, and a test or another run may hold them.
            f"{prefix}_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
            f"{prefix}_DATABASE_URL": db_url or f"sqlite:///{workdir / f'{service}.db'}",
        }
        return spawn(service, template.format(service=service), env, address, workdir)

    return _start_pair(
        lambda: start("product", product_db_url, {}),
        lambda product: start("order", order_db_url, {"ORDER_PRODUCT_SERVICE_TARGET": product.address}),
    )


def start_lean_stack(
    workdir: Path, variant: str, product_db_url: str | None = None, order_db_url: str | None = None
) -> EshopStack:
    """The lean reference ``variant`` as two subprocesses: ``sync`` or ``aio`` (the server model, see
    ``benchmarks.lean``), for ``aio`` with an asynchronous driver after a dash (``aio-psycopg``,
    ``aio-asyncpg``: PostgreSQL only).

    Their SQLite files and logs go to ``workdir/lean-<variant>``; on PostgreSQL they use the given
    databases, each in a schema of their own (``eshop_lean_order``, ``eshop_lean_product``), made afresh.
    """
    home = workdir / f"lean-{variant}"
    home.mkdir(exist_ok=True)

    def start(service: str, db_url: str | None, env: dict[str, str]) -> ServerProcess:
        address = f"127.0.0.1:{free_port()}"
        env = {
            **env,
            "LEAN_LISTEN_ADDRESS": address,
            "LEAN_DATABASE_URL": db_url or f"sqlite:///{home / f'{service}.db'}",
        }
        model, _, driver = variant.partition("-")
        code = SERVE_LEAN.format(model=model, service=service, driver=driver)
        return spawn(service, code, env, address, home)

    return _start_pair(
        lambda: start("product", product_db_url, {}),
        lambda product: start("order", order_db_url, {"LEAN_PRODUCT_TARGET": product.address}),
    )


def _start_pair(
    start_product: Callable[[], ServerProcess], start_order: Callable[[ServerProcess], ServerProcess]
) -> EshopStack:
    """Product first (the Order server talks to it), each waited to SERVING."""
    product = start_product()
    servers = [product]
    try:
        product.wait_until_serving()
        order = start_order(product)
        servers.append(order)
        order.wait_until_serving()
    except BaseException:
        stop_all(servers)
        raise
    return EshopStack(product, order)


def seed_products(address: str, count: int, stock: int = SEED_STOCK) -> list[str]:
    """Create ``count`` products with huge stock; returns their ids in creation order."""
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)

        def create(i: int) -> str:
            request = pb.CreateProductRequest(
                name=f"bench-{i:05d}", price=f"{1 + i % 97}.99", stock_quantity=stock, low_stock_threshold=0
            )
            product: pb.Product = stub.CreateProduct(request, timeout=10)
            return product.product_id

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(create, range(count)))
