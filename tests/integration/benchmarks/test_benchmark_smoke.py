"""The benchmark's smoke run: ``python -m benchmarks --quick`` end to end, in a subprocess.

It starts its own services, echo chain, one lean reference (the aio one: the smoke run stays short)
and load process; this test checks only that a complete report
comes out with no errors. No timing is asserted: this machine's numbers are the benchmark's business.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.ab import compare, services
from benchmarks.services import throwaway_cluster
from benchmarks.stack import start_stack
from sqlalchemy import create_engine, text

from tests.support.backend import backend

REPO_ROOT = Path(__file__).resolve().parents[3]
PHASE_KEYS = {
    "name", "kind", "workload", "concurrency", "duration_s", "calls", "throughput_per_s",
    "latency_ms", "errors_by_code", "rejected_orders", "cancels",
}  # fmt: skip
SERVERS = {"echo": {"echo-front", "echo-back"}, "order": {"order", "product"}}


@pytest.mark.slow
def test_quick_benchmark_writes_a_complete_report_without_errors(tmp_path: Path) -> None:
    if os.environ.get("ESHOP_TEST_BACKEND", "").strip().lower() == "postgres":
        # Its own SQLite files whatever the backend: under py311-pg it would repeat py311's run.
        pytest.skip("the smoke run uses SQLite of its own; it runs once, under py311")
    out = tmp_path / "report.json"
    env = dict(os.environ)
    # `benchmarks` lives in the repository; the services come from wherever this test imports them
    # (the installed package under tox, src/ with PYTHONPATH=src).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--duration", "2", "--warmup", "0.3",
         "--products", "10", "--lean", "aio", "--count-queries", "--out", str(out)],
        check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(out.read_text())

    assert {"meta", "phases", "comparison", "hot_vs_spread", "targets", "total_errors"} <= report.keys()
    assert {p["name"] for p in report["phases"]} == {
        "echo-chain-c1", "echo-chain-c16", "create-order-c1", "create-order-c16", "hot-product-c16",
        "lean-aio-c1", "lean-aio-c16",
    }  # fmt: skip
    for phase in report["phases"]:
        assert phase.keys() >= PHASE_KEYS
        assert {"p50", "p95", "p99"} <= phase["latency_ms"].keys()
        assert phase["calls"] > 0, phase["name"]
        if sys.platform == "linux":  # CPU time is read from /proc
            assert phase["cpu"]["total_ms_per_call"] > 0, phase["name"]
            assert {"load", *SERVERS[phase["kind"]]} == phase["cpu"]["ms_per_call"].keys()
    assert [row["concurrency"] for row in report["comparison"]] == [1, 16]
    assert {"throughput_ratio", "p99_ratio"} <= report["comparison"][0].keys()
    assert [(r["concurrency"], r["subject"]) for r in report["lean_comparison"]] == [
        (n, subject) for n in (1, 16) for subject in ("echo", "spread", "lean-aio")
    ]
    assert {"throughput_vs_chain", "throughput_vs_best_lean", "p99_vs_best_lean", "cpu_vs_best_lean"} <= (
        report["lean_comparison"][0].keys()
    )
    assert len(report["targets"]) == 4
    assert report["total_errors"] == 0, [
        (p["name"], p["errors_by_code"], p["rejected_orders"], p["cancels"]["errors_by_code"])
        for p in report["phases"]
    ]
    assert "PASS" in completed.stdout or "FAIL" in completed.stdout
    # What `python -m benchmarks.ab` reads from each run's report, and its B-over-A table.
    figures = services(report)
    assert sorted(figures) == [1, 16]
    assert all(orders > 0 and p99 > 0 for orders, p99, _cpu in figures.values())
    table = compare([figures], [figures]).splitlines()
    assert len(table) == 3 and all(row.split()[3] == "1.00" for row in table[1:])

    # --plot draws the report: each subject a bar (the SVG keeps its text as text).
    picture = tmp_path / "plot.svg"
    drawn = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--plot", str(out), "--out", str(picture)],
        check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    svg = picture.read_text()
    assert svg.startswith("<?xml") and "</svg>" in svg
    assert all(label in svg for label in ("echo chain", "services", "lean aio", "p99 ms", "CPU ms per call"))

    # --count-queries: the SQL of each RPC, and so its round trips on PostgreSQL (BEGIN is said at once
    # and there is no pre-ping). One-line orders: the PENDING insert and the outcome, each a
    # transaction of two statements; ReserveStock one transaction of three (the claim, the decrement
    # returning the name and price, the lines).
    counts = report["query_counts"]
    assert counts["errors"] == {}
    create = counts["order"]["/eshop.order.v1.OrderService/CreateOrder"]
    reserve = counts["product"]["/eshop.product.v1.ProductService/ReserveStock"]
    assert (create["begins_per_call"], create["statements_per_call"], create["commits_per_call"]) == (2, 4, 2)
    assert create["round_trips_per_call"] == 8
    assert (reserve["begins_per_call"], reserve["statements_per_call"], reserve["commits_per_call"]) == (
        1,
        3,
        1,
    )
    assert reserve["round_trips_per_call"] == 5


def test_the_postgres_option_runs_on_a_throwaway_cluster_of_its_own() -> None:
    """``--postgres`` (of the benchmark and of its A/B): a cluster started for the run, a fresh database
    for each subject, all gone at the end."""
    if backend() != "postgres":
        pytest.skip("needs PostgreSQL's server binaries (ESHOP_TEST_BACKEND=postgres)")
    cluster = throwaway_cluster()
    try:
        first, second = cluster.create_database("product"), cluster.create_database("product")
        assert first != second
        engine = create_engine(first)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()
    finally:
        cluster.stop()
    assert not Path(cluster._root).exists()


def test_the_measured_services_serve_while_the_default_metrics_ports_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs and tests share a machine: the services the benchmark starts keep their Prometheus endpoints
    on, as deployed, each on a free port, not on the one-per-machine defaults."""
    for variable in ("PRODUCT_METRICS_ADDRESS", "ORDER_METRICS_ADDRESS"):
        monkeypatch.delenv(variable)  # the tests' own setting (off) would hide the defaults
    held = []
    for port in (9464, 9465):
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", port))
            holder.listen()
        except OSError:  # another process holds it: the same situation
            holder.close()
            continue
        held.append(holder)
    try:
        stack = start_stack(tmp_path)
        stack.stop()
    finally:
        for holder in held:
            holder.close()
