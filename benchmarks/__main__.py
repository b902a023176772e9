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
from benchmarks.services import REPO_ROOT
from common.redaction import redacted

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
FULL = {"duration": 10.0, "warmup": 2.0, "concurrency": [1, 16, 64], "products": 1000}
LEAN_VARIANTS = ("sync", "aio")
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
        "--lean", nargs="*", choices=LEAN_VARIANTS, default=list(LEAN_VARIANTS),
        help="lean references to compare with (default: sync aio; none when given no names)",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="extra phase sampled with py-spy")
    parser.add_argument("--count-queries", action="store_true", help="count SQL statements per RPC")
    parser.add_argument("--note", default="", help="free text stored in the report (e.g. machine load)")
    parser.add_argument("--out", type=Path, help="JSON report (default benchmarks/results/report-<ts>.json)")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not 0 <= args.cancel_ratio <= 1:
        parser.error("--cancel-ratio must be within 0..1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out: Path = args.out or RESULTS_DIR / f"report-{stamp}.json"
    workdir = Path(tempfile.mkdtemp(prefix="eshop-bench-"))
    config = RunConfig(
        duration_s=args.duration, warmup_s=args.warmup, concurrencies=args.concurrency,
        hot_concurrency=args.hot_concurrency, products=args.products, cancel_ratio=args.cancel_ratio,
        workdir=workdir, results_stem=out.with_suffix(""), product_db_url=args.product_db_url,
        order_db_url=args.order_db_url, profile=args.profile, count_queries=args.count_queries,
        lean=tuple(args.lean),
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), load_average()
    print(f"benchmark: {config.concurrencies} in flight, {config.duration_s} s per phase "
          f"(+{config.warmup_s} s warm-up), workdir {workdir}", file=sys.stderr)  # fmt: skip
    try:
        result = run(config)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta = {
        "timestamp": stamp, "wall_s": round(time.time() - started, 1), "cpus": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "python": platform.python_version(), "grpcio": grpc.__version__, "sqlalchemy": sqlalchemy.__version__,
        "databases": {"product": _redact(args.product_db_url), "order": _redact(args.order_db_url)},
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
