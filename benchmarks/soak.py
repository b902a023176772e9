"""``python -m benchmarks.soak``: both services on PostgreSQL for minutes under a mixed load, with every
database session terminated once a minute, watching what grows or breaks: each service's resident
memory, its open database connections, and every status a client saw.

The load: orders created (one to three units; a few products run out, so some are REJECTED), a third
of the confirmed ones cancelled, customers' orders listed, and bad requests that must get their own
status (a quantity of 0: INVALID_ARGUMENT; an unknown order: NOT_FOUND). A sample every
``--sample-every`` seconds on stderr, a JSON report at the end; exit 1 if any call got a status it
should not (INTERNAL, UNKNOWN, a bad request answered otherwise) or the stock does not add up.

The databases are two fresh ones on ``--server-url`` (a superuser URL such as
``postgresql+psycopg://postgres@db:5432/postgres``), or on a throwaway cluster started for the run
(``tests/support/postgres_cluster.py``: needs the PostgreSQL server binaries).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
from tests.support.invariant import assert_stock_conserved, wait_for_quiescence
from tests.support.postgres_cluster import PostgresServer, ThrowawayCluster, external_server

from benchmarks.services import REPO_ROOT
from benchmarks.stack import EshopStack, seed_products, start_stack
from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.order.v1 import order_pb2_grpc as opb_grpc
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
CALL_TIMEOUT_S = 10.0
# What an ordinary call may end with while sessions are terminated: done, or an honest "try again".
HONEST = {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
# What each bad request must get (or UNAVAILABLE, when it needed the database at the wrong moment).
BAD = {
    "CreateOrder(quantity 0)": {grpc.StatusCode.INVALID_ARGUMENT},
    "GetOrder(unknown)": {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE},
}
SCARCE_STOCK = 30  # two products that run out early: REJECTED orders are part of the mix


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--terminate-every", type=float, default=60.0, help="seconds between terminations")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--server-url", help="a PostgreSQL superuser URL (default: a throwaway cluster)")
    parser.add_argument("--out", type=Path, help="JSON report (default benchmarks/results/soak-<ts>.json)")
    return parser.parse_args(argv)


@dataclass
class Tally:
    """Every call's method and status, and the calls that got a status they should not have."""

    codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    unexpected: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, code: grpc.StatusCode, allowed: set[grpc.StatusCode]) -> None:
        with self.lock:
            self.codes[(method, code.name)] += 1
            if code not in allowed:
                self.unexpected[(method, code.name)] += 1

    def calls(self) -> int:
        with self.lock:
            return sum(self.codes.values())

    def count(self, code: str) -> int:
        with self.lock:
            return sum(n for (_, c), n in self.codes.items() if c == code)


def _call(tally: Tally, method: str, allowed: set[grpc.StatusCode], call: Any, request: Any) -> Any:
    try:
        reply = call(request, timeout=CALL_TIMEOUT_S)
    except grpc.RpcError as error:
        tally.add(method, error.code(), allowed)
        return None
    tally.add(method, grpc.StatusCode.OK, allowed)
    return reply


def client(
    orders: opb_grpc.OrderServiceStub, products: list[str], tally: Tally, stop: threading.Event
) -> None:
    customer = str(uuid.uuid4())
    rng = random.Random()
    turn = 0
    while not stop.is_set():
        turn += 1
        kind = turn % 10
        if kind == 7:
            bad = opb.CreateOrderRequest(
                customer_id=customer, items=[opb.OrderLine(product_id=products[0], quantity=0)]
            )
            _call(tally, "CreateOrder(quantity 0)", BAD["CreateOrder(quantity 0)"], orders.CreateOrder, bad)
        elif kind == 8:
            unknown = opb.GetOrderRequest(order_id=str(uuid.uuid4()))
            _call(tally, "GetOrder(unknown)", BAD["GetOrder(unknown)"], orders.GetOrder, unknown)
        elif kind == 9:
            listing = opb.ListOrdersRequest(customer_id=customer, page_size=20)
            _call(tally, "ListOrders", HONEST, orders.ListOrders, listing)
        else:
            line = opb.OrderLine(product_id=rng.choice(products), quantity=rng.randint(1, 3))
            create = opb.CreateOrderRequest(customer_id=customer, items=[line], request_id=str(uuid.uuid4()))
            order = _call(tally, "CreateOrder", HONEST, orders.CreateOrder, create)
            if order is not None and order.status == opb.ORDER_STATUS_CONFIRMED and rng.random() < 1 / 3:
                cancel = opb.CancelOrderRequest(order_id=order.order_id)
                _call(tally, "CancelOrder", HONEST, orders.CancelOrder, cancel)
        if tally.unexpected:
            stop.wait(0.01)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _admin(server: PostgresServer) -> psycopg.Connection[tuple[Any, ...]]:
    url = server.admin_url
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password,
        dbname=url.database or "postgres", autocommit=True,
    )  # fmt: skip


def sessions(server: PostgresServer, databases: dict[str, str]) -> dict[str, int]:
    """Open sessions per service's database."""
    with _admin(server) as admin:
        rows = admin.execute(
            "SELECT datname, count(*) FROM pg_stat_activity WHERE datname = ANY(%s) GROUP BY datname",
            (list(databases.values()),),
        ).fetchall()
    counts = {str(name): int(n) for name, n in rows}
    return {service: counts.get(name, 0) for service, name in databases.items()}


def terminate(server: PostgresServer, databases: dict[str, str]) -> int:
    with _admin(server) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s)",
            (list(databases.values()),),
        ).fetchall()
    return len(rows)


def seed(stack: EshopStack) -> dict[str, int]:
    """Products and their initial stock: plenty of most, little of two."""
    plenty = seed_products(stack.product.address, 20)
    stock = dict.fromkeys(plenty, 1_000_000)
    with grpc.insecure_channel(stack.product.address) as channel:
        stub = pb_grpc.ProductServiceStub(channel)
        for i in range(2):
            request = pb.CreateProductRequest(name=f"scarce-{i}", price="5.00", stock_quantity=SCARCE_STOCK)
            stock[stub.CreateProduct(request, timeout=10).product_id] = SCARCE_STOCK
    return stock


def soak(args: argparse.Namespace, server: PostgresServer, workdir: Path) -> dict[str, Any]:
    urls = {service: server.create_database(f"soak_{service}") for service in ("product", "order")}
    databases = {service: url.rsplit("/", 1)[1] for service, url in urls.items()}
    stack = start_stack(workdir, urls["product"], urls["order"])
    try:
        initial = seed(stack)
        tally, stop, samples, terminations = Tally(), threading.Event(), [], []
        channel = grpc.insecure_channel(stack.order.address)
        orders = opb_grpc.OrderServiceStub(channel)
        clients = [
            threading.Thread(target=client, args=(orders, list(initial), tally, stop), daemon=True)
            for _ in range(args.clients)
        ]
        started = time.monotonic()
        for thread in clients:
            thread.start()
        next_sample, next_termination = started + args.sample_every, started + args.terminate_every
        while (now := time.monotonic()) < started + args.duration:
            if now >= next_termination:
                terminations.append(
                    {"at_s": round(now - started, 1), "sessions": terminate(server, databases)}
                )
                next_termination += args.terminate_every
            if now >= next_sample:
                samples.append(_sample(stack, server, databases, tally, now - started))
                next_sample += args.sample_every
            time.sleep(0.1)
        stop.set()
        for thread in clients:
            thread.join(timeout=3 * CALL_TIMEOUT_S)
        channel.close()
        samples.append(_sample(stack, server, databases, tally, time.monotonic() - started))
        wait_for_quiescence(urls["order"], timeout_s=60)
        conserved = _conserved(urls, initial)
    finally:
        stack.stop()
    episodes = {s.name: _log_count(s.log_path, " failing (") for s in stack.servers}
    return {
        "meta": {
            "duration_s": args.duration,
            "terminate_every_s": args.terminate_every,
            "clients": args.clients,
        },
        "calls": tally.calls(),
        "codes": {f"{method} {code}": n for (method, code), n in sorted(tally.codes.items())},
        "unexpected": {f"{method} {code}": n for (method, code), n in sorted(tally.unexpected.items())},
        "terminations": terminations,
        "outage_episodes_logged": episodes,
        "samples": samples,
        "summary": _summary(samples),
        "stock_conserved": conserved,
    }


def _sample(
    stack: EshopStack, server: PostgresServer, databases: dict[str, str], tally: Tally, at_s: float
) -> dict[str, Any]:
    sample = {
        "at_s": round(at_s, 1),
        "rss_mb": {s.name: _rounded(rss_mb(s.pid)) for s in stack.servers},
        "db_sessions": sessions(server, databases),
        "calls": tally.calls(),
        "unavailable": tally.count("UNAVAILABLE"),
        "unexpected": sum(tally.unexpected.values()),
    }
    print(
        f"soak {sample['at_s']:6.1f} s: {sample['calls']} calls, {sample['unavailable']} UNAVAILABLE, "
        f"{sample['unexpected']} unexpected; RSS {sample['rss_mb']} MB; sessions {sample['db_sessions']}",
        file=sys.stderr,
        flush=True,
    )
    return sample


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """RSS at the first sample (warm) and at the end, and the most sessions seen, per service."""
    first, last = samples[0], samples[-1]
    return {
        service: {
            "rss_mb_first": first["rss_mb"][service],
            "rss_mb_last": last["rss_mb"][service],
            "rss_mb_max": max(s["rss_mb"][service] or 0 for s in samples),
            "db_sessions_max": max(s["db_sessions"][service] for s in samples),
            "db_sessions_last": last["db_sessions"][service],
        }
        for service in ("product", "order")
    }


def _conserved(urls: dict[str, str], initial: dict[str, int]) -> bool:
    try:
        assert_stock_conserved(urls["product"], urls["order"], initial)
    except AssertionError as problem:
        print(f"soak: {problem}", file=sys.stderr)
        return False
    return True


def _log_count(path: Path, fragment: str) -> int:
    try:
        return sum(fragment in line for line in path.read_text(errors="replace").splitlines())
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out or RESULTS_DIR / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="eshop-soak-"))
    server: PostgresServer = external_server(args.server_url) if args.server_url else ThrowawayCluster()
    try:
        report = soak(args, server, workdir)
    finally:
        if isinstance(server, ThrowawayCluster):
            server.stop()
        else:
            server.drop_created_databases()
        shutil.rmtree(workdir, ignore_errors=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("calls", "unexpected", "summary", "stock_conserved")}, indent=2))
    print(f"soak: report in {out}", file=sys.stderr)
    return 0 if not report["unexpected"] and report["stock_conserved"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
