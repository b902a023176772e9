"""``python -m benchmarks``: CreateOrder vs a bare two-hop gRPC chain and lean references, hot vs
spread, targets, report."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import grpc
import sqlalchemy

from benchmarks import profile, report
from benchmarks.runner import RunConfig, load_average, run
from benchmarks.services import REPO_ROOT, throwaway_cluster
from common.redaction import redacted

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
FULL = {"duration": 10.0, "warmup": 2.0, "concurrency": [1, 16, 64], "products": 1000}
LEAN_VARIANTS = ("sync", "aio", "aio-psycopg", "aio-asyncpg")
ASYNC_DRIVER_VARIANTS = ("aio-psycopg", "aio-asyncpg")  # PostgreSQL only
QUICK = {"duration": 2.0, "warmup": 0.5, "concurrency": [1, 16], "products": 20}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s phases, c=1 and 16, 20 products")
    parser.add_argument("--duration", type=float, help="measured seconds per phase (default 10)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each phase (default 2)")
    parser.add_argument("--concurrency", type=int, nargs="+", help="calls in flight (default 1 16 64)")
    parser.add_argument("--hot-concurrency", type=int, default=16, help="for hot vs spread (default 16)")
    parser.add_argument("--products", type=int, help="products to spread orders over (default 1000)")
    parser.add_argument("--cancel-ratio", type=float, default=0.1, help="share of confirmed orders cancelled")
    parser.add_argument(
        "--product-db-url", help="e.g. postgresql+psycopg://… (default: SQLite in a temp dir)"
    )
    parser.add_argument("--order-db-url", help="e.g. postgresql+psycopg://… (default: SQLite in a temp dir)")
    parser.add_argument(
        "--postgres", action="store_true",
        help="PostgreSQL: a throwaway local cluster (tests/support/postgres_cluster.py), a fresh pair of "
        "databases for each subject",
    )  # fmt: skip
    parser.add_argument(
        "--lean", nargs="*", choices=LEAN_VARIANTS,
        help="lean references to compare with (default: every one the databases allow, the asynchronous "
        "drivers on PostgreSQL only; none when given no names)",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="extra phase sampled with py-spy")
    parser.add_argument("--count-queries", action="store_true", help="count SQL statements per RPC")
    parser.add_argument("--note", default="", help="free text stored in the report (e.g. machine load)")
    parser.add_argument(
        "--plot", nargs="+", type=Path, metavar="REPORT",
        help="draw these reports (throughput, p50, p99, CPU per subject and concurrency) instead of a run; "
        "--out names the picture (.svg or .png)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path,
        help="JSON report (default benchmarks/results/report-<ts>.json); with --plot the picture "
        "(default benchmarks/results/plot-<ts>.svg)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not 0 <= args.cancel_ratio <= 1:
        parser.error("--cancel-ratio must be within 0..1")
    urls = (args.product_db_url, args.order_db_url)
    if args.postgres and any(urls):
        parser.error("--postgres makes its own databases: give no --*-db-url with it")
    postgres = args.postgres or all((url or "").startswith("postgresql") for url in urls)
    if args.lean is None:
        args.lean = [v for v in LEAN_VARIANTS if postgres or v not in ASYNC_DRIVER_VARIANTS]
    elif not postgres and set(args.lean) & set(ASYNC_DRIVER_VARIANTS):
        parser.error("the lean references on asynchronous drivers need PostgreSQL (--*-db-url)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if args.plot:
        from benchmarks import plot

        return plot.main(args.plot, args.out or RESULTS_DIR / f"plot-{stamp}.svg")
    out: Path = args.out or RESULTS_DIR / f"report-{stamp}.json"
    workdir = Path(tempfile.mkdtemp(prefix="eshop-bench-"))
    cluster = throwaway_cluster() if args.postgres else None
    config = RunConfig(
        duration_s=args.duration, warmup_s=args.warmup, concurrencies=args.concurrency,
        hot_concurrency=args.hot_concurrency, products=args.products, cancel_ratio=args.cancel_ratio,
        workdir=workdir, results_stem=out.with_suffix(""), product_db_url=args.product_db_url,
        order_db_url=args.order_db_url, profile=args.profile, count_queries=args.count_queries,
        lean=tuple(args.lean),
        fresh_database=None if cluster is None else cluster.create_database,
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), load_average()
    print(f"benchmark: {config.concurrencies} in flight, {config.duration_s} s per phase "
          f"(+{config.warmup_s} s warm-up), workdir {workdir}", file=sys.stderr)  # fmt: skip
    try:
        result = run(config)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if cluster is not None:
            cluster.stop()
    meta = {
        "timestamp": stamp, "wall_s": round(time.time() - started, 1), "cpus": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "python": platform.python_version(), "grpcio": grpc.__version__, "sqlalchemy": sqlalchemy.__version__,
        "databases": {
            name: "postgresql (throwaway cluster)" if args.postgres else _redact(url)
            for name, url in (("product", args.product_db_url), ("order", args.order_db_url))
        },
        "note": args.note, "args": {k: str(v) for k, v in vars(args).items()},
    }  # fmt: skip
    built = report.build(meta, result.phases, config.hot_concurrency)
    built.update(result.extras)
    report.write(built, out)
    print(report.render(built))
    if "query_counts" in built:
        print("\n" + report.render_query_counts(built["query_counts"]))
    if "profile" in built:
        profiles = built["profile"]
        print("\n" + (profiles["error"] if "error" in profiles else profile.render(profiles)))
    print(f"\nreport: {out}")
    return 0


def _redact(url: str | None) -> str:
    if url is None:
        return "sqlite (temp dir)"
    return redacted(url)


if __name__ == "__main__":
    sys.exit(main())
