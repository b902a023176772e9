"""The stock promise, checked straight in both databases: nothing confirmed without its stock, no stock
lost or created, nothing left half done.

For every product: initial + restocked == available + units of CONFIRMED orders; stock is never below
zero; no order is PENDING; the release outbox is empty. Only meaningful once the system is quiet
(``wait_for_quiescence``): while a release is queued its stock is legitimately still out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, create_engine, func, select
from sqlalchemy.pool import NullPool

from order.domain.model import OrderStatus
from order.infrastructure.tables import order_lines, orders, release_outbox
from product.infrastructure.tables import products


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A short-lived read connection (no pool left behind to hold SQLite files or PostgreSQL slots)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def stock_levels(product_db_url: str) -> dict[str, int]:
    with connect(product_db_url) as conn:
        rows = conn.execute(select(products.c.product_id, products.c.stock_quantity))
        return {row.product_id: int(row.stock_quantity) for row in rows}


def confirmed_units(order_db_url: str) -> dict[str, int]:
    """Units held by CONFIRMED orders, per product id."""
    query = (
        select(order_lines.c.product_id, func.sum(order_lines.c.quantity))
        .join(orders, orders.c.order_id == order_lines.c.order_id)
        .where(orders.c.status == OrderStatus.CONFIRMED.value)
        .group_by(order_lines.c.product_id)
    )
    with connect(order_db_url) as conn:
        return {product_id: int(total) for product_id, total in conn.execute(query)}


@dataclass(frozen=True)
class Backlog:
    pending_orders: int
    queued_releases: int

    @property
    def quiet(self) -> bool:
        return self.pending_orders == 0 and self.queued_releases == 0


def backlog(order_db_url: str) -> Backlog:
    with connect(order_db_url) as conn:
        pending = conn.execute(
            select(func.count()).select_from(orders).where(orders.c.status == OrderStatus.PENDING.value)
        ).scalar_one()
        queued = conn.execute(select(func.count()).select_from(release_outbox)).scalar_one()
    return Backlog(int(pending), int(queued))


def wait_for_quiescence(order_db_url: str, timeout_s: float = 60.0, poll_s: float = 0.2) -> None:
    """Wait, bounded, until the reconciler has resolved every PENDING order and the outbox worker has
    delivered every release (both run inside the Order service, which must be up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = backlog(order_db_url)
        if state.quiet:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"system not quiet after {timeout_s} s: {state}")
        time.sleep(poll_s)


def assert_stock_conserved(
    product_db_url: str,
    order_db_url: str,
    initial: Mapping[str, int],
    restocked: Mapping[str, int] | None = None,
) -> None:
    restocked = restocked or {}
    stock = stock_levels(product_db_url)
    confirmed = confirmed_units(order_db_url)
    state = backlog(order_db_url)
    problems: list[str] = []
    if state.pending_orders:
        problems.append(f"{state.pending_orders} orders still PENDING")
    if state.queued_releases:
        problems.append(f"{state.queued_releases} releases still in the outbox")
    for product_id, available in stock.items():
        if available < 0:
            problems.append(f"product {product_id}: negative stock {available}")
    for product_id in sorted(set(initial) | set(restocked) | set(confirmed)):
        supplied = initial.get(product_id, 0) + restocked.get(product_id, 0)
        available = stock.get(product_id, 0)
        held = confirmed.get(product_id, 0)
        if supplied != available + held:
            problems.append(
                f"product {product_id}: supplied {supplied} != available {available} + confirmed {held} "
                f"({available + held - supplied:+d} units)"
            )
    assert not problems, "stock not conserved:\n  " + "\n  ".join(problems)
