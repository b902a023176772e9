"""One benchmark run: the echo chain's phases, the services' phases, the lean references' phases, then
the optional extras."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import profile
from benchmarks.echo_chain import start_chain
from benchmarks.load import LoadSpec, run_load
from benchmarks.services import ServerProcess, stop_all
from benchmarks.stack import EshopStack, seed_products, start_lean_stack, start_stack

QUERY_COUNT_PRODUCTS = 10
QUERY_COUNT_DURATION_S = 2.0


@dataclass(frozen=True)
class RunConfig:
    duration_s: float
    warmup_s: float
    concurrencies: list[int]
    hot_concurrency: int
    products: int
    cancel_ratio: float
    workdir: Path
    results_stem: Path  # profiles go to <stem>.profile-<service>-<view>.txt
    product_db_url: str | None = None
    order_db_url: str | None = None
    profile: bool = False
    count_queries: bool = False
    lean: tuple[str, ...] = ("sync", "aio")  # lean references to run (benchmarks.lean)
    # A fresh database of that name on a PostgreSQL server for each subject, instead of the URLs above.
    fresh_database: Callable[[str], str] | None = None

    def urls(self, subject: str) -> tuple[str | None, str | None]:
        """The Product and Order databases of ``subject``."""
        if self.fresh_database is None:
            return self.product_db_url, self.order_db_url
        return self.fresh_database(f"{subject}-product"), self.fresh_database(f"{subject}-order")


@dataclass
class Run:
    config: RunConfig
    phases: list[dict[str, Any]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def phase(
        self,
        name: str,
        workload: str,
        spec: LoadSpec,
        servers: Sequence[ServerProcess],
        diagnostic: bool = False,
    ) -> dict[str, Any]:
        result = run_load(spec, lambda m: _show_progress(name, m), {s.name: s.pid for s in servers})
        record = {"name": name, "kind": spec.kind, "workload": workload, "concurrency": spec.concurrency,
                  "duration_s": spec.duration_s, "warmup_s": spec.warmup_s, "cancel_ratio": spec.cancel_ratio,
                  **result}  # fmt: skip
        if diagnostic:
            record["diagnostic"] = True  # not part of the comparison nor the error count
        _show_done(record)
        self.phases.append(record)
        return record


def run(config: RunConfig) -> Run:
    state = Run(config)
    _echo_phases(state)
    _order_phases(state)
    for variant in config.lean:
        _lean_phases(state, variant)
    if config.count_queries:
        state.extras["query_counts"] = _count_queries(config)
    return state


def _echo_phases(state: Run) -> None:
    c = state.config
    chain = start_chain(c.workdir)
    try:
        front = chain[-1].address
        for n in c.concurrencies:
            spec = LoadSpec("echo", front, n, c.duration_s, c.warmup_s)
            state.phase(f"echo-chain-c{n}", "echo", spec, chain)
    finally:
        stop_all(chain)


def _order_phases(state: Run) -> None:
    c = state.config
    stack = start_stack(c.workdir, *c.urls("services"))
    try:
        products = seed_products(stack.product.address, c.products)
        target = stack.order.address

        def spec(n: int, ids: list[str]) -> LoadSpec:
            return LoadSpec("order", target, n, c.duration_s, c.warmup_s, ids, c.cancel_ratio)

        for n in c.concurrencies:
            state.phase(f"create-order-c{n}", "spread", spec(n, products), stack.servers)
        hot_n = c.hot_concurrency
        if hot_n not in c.concurrencies:
            state.phase(f"create-order-c{hot_n}", "spread", spec(hot_n, products), stack.servers)
        state.phase(f"hot-product-c{hot_n}", "hot", spec(hot_n, products[:1]), stack.servers)
        if c.profile:
            state.extras["profile"] = _profiled_phase(state, stack, spec(c.hot_concurrency, products))
    finally:
        stack.stop()


def _lean_phases(state: Run, variant: str) -> None:
    """The spread workload at each concurrency on a lean reference, seeded with the same catalogue."""
    c = state.config
    stack = start_lean_stack(c.workdir, variant, *c.urls(f"lean-{variant}"))
    try:
        products = seed_products(stack.product.address, c.products)
        for n in c.concurrencies:
            spec = LoadSpec(
                "order", stack.order.address, n, c.duration_s, c.warmup_s, products, c.cancel_ratio
            )
            state.phase(f"lean-{variant}-c{n}", f"lean-{variant}", spec, stack.servers)
    finally:
        stack.stop()


def _profiled_phase(state: Run, stack: EshopStack, spec: LoadSpec) -> dict[str, Any]:
    """The spread workload again, with py-spy attached to both services (so the timed phases stay clean)."""
    if profile.py_spy() is None:
        return {"error": "py-spy not found: pip install py-spy (benchmark tool only, not a runtime dep)"}
    duration = spec.warmup_s + spec.duration_s
    samplers = [
        sampler
        for server in stack.servers
        for sampler in profile.start_sampling(server.name, server.pid, duration, state.config.results_stem)
    ]
    state.phase(f"profiled-c{spec.concurrency}", "profiled", spec, stack.servers, diagnostic=True)
    for sampler in samplers:
        sampler.wait(30)
    return profile.summarise_all(samplers)


def _count_queries(config: RunConfig) -> dict[str, Any]:
    """SQL statements, transactions and compiled-cache hits per RPC, from a short sequential run."""
    out = config.workdir / "queries"
    out.mkdir(exist_ok=True)
    stack = start_stack(out, *config.urls("count-queries"), count_queries_to=out)
    try:
        products = seed_products(stack.product.address, QUERY_COUNT_PRODUCTS)
        spec = LoadSpec("order", stack.order.address, 1, QUERY_COUNT_DURATION_S, 0.5, products, 0.5)
        result = run_load(spec, lambda m: _show_progress("count-queries", m))
        _clear_line()
    finally:
        stack.stop()
    counts: dict[str, Any] = {"errors": result["errors_by_code"]}
    for service in ("order", "product"):
        path = out / f"{service}.json"
        counts[service] = json.loads(path.read_text())["methods"] if path.exists() else "missing"
    return counts


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _show_progress(name: str, message: dict[str, Any]) -> None:
    stage = "warm-up" if message["warming_up"] else "measuring"
    sys.stderr.write(
        f"\r  {name:<22} {stage:<9} {message['elapsed_s']:5.1f}/{message['total_s']:.1f} s "
        f"{message['calls']:>7} calls {message['errors']:>4} errors   "
    )
    sys.stderr.flush()


def _clear_line() -> None:
    sys.stderr.write("\r" + " " * 90 + "\r")


def _show_done(record: dict[str, Any]) -> None:
    _clear_line()
    sys.stderr.write(
        f"  {record['name']:<22} {record['throughput_per_s']:>8.1f} calls/s  "
        f"p99 {record['latency_ms']['p99']:.1f} ms  errors {record['errors_by_code'] or 0} "
        f"rejected {record['rejected_orders']}  ({time.strftime('%H:%M:%S')})\n"
    )
