"""``python -m benchmarks.ab <rev>``: the services of another revision (A) against this tree's (B), on
one machine, back to back.

Each round runs ``python -m benchmarks`` in a git worktree of ``<rev>`` (made in a temporary directory
and removed at the end) and then in this tree, with the same arguments, A then B, ``--rounds`` times;
then it prints, per concurrency, each side's median throughput, p99 and CPU per order of the services
(the ``spread`` workload) and B over A. Alternating rounds share whatever else the machine is doing.
Arguments after ``--`` go to both runs (default ``--concurrency 16 --lean --duration 6``); the older
revision must understand them. ``--b-env NAME=VALUE`` (repeatable) sets a variable for B's runs only,
which its services inherit: ``python -m benchmarks.ab HEAD --b-env ORDER_EVENTS_BROKER_URL=amqp://…
--b-env PRODUCT_EVENTS_BROKER_URL=amqp://…`` measures this tree without and with a broker.
``--postgres`` runs both on PostgreSQL: a throwaway cluster, a fresh pair of databases for each run (so
no run works on another's rows), whatever the revision.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.services import REPO_ROOT, throwaway_cluster

DEFAULT_ARGS = ["--concurrency", "16", "--lean", "--duration", "6"]


def _run(tree: Path, args: list[str], out: Path, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    # Everything of that run (the driver, the load, the services) imports that tree's code.
    env = {**os.environ, **(extra_env or {}), "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(tree)])}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--out", str(out)],
        cwd=tree,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"python -m benchmarks failed in {tree}:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def services(report: dict[str, Any], workload: str = "spread") -> dict[int, tuple[float, float, float]]:
    """Concurrency -> (calls/s, p99 ms, CPU ms per call) of a workload's phases: the services'
    (``spread``) or a lean reference's (``lean-aio``, a control: both sides should see the same)."""
    return {
        int(p["concurrency"]): (
            float(p["throughput_per_s"]),
            float(p["latency_ms"]["p99"]),
            float(p["cpu"]["total_ms_per_call"]),
        )
        for p in report["phases"]
        if p.get("workload") == workload and not p.get("diagnostic")
    }


Side = list[dict[int, tuple[float, float, float]]]  # per round: concurrency -> figures


def _median(side: Side, c: int, i: int) -> float:
    return statistics.median(r[c][i] for r in side if c in r)


def compare(a: Side, b: Side) -> str:
    lines = [
        f"{'c':>3} {'A orders/s':>11} {'B orders/s':>11} {'B/A':>5} {'A p99':>7} {'B p99':>7} "
        f"{'A cpu ms':>9} {'B cpu ms':>9} {'B/A':>5}"
    ]
    for c in sorted(set().union(*a, *b)):
        ta, tb = _median(a, c, 0), _median(b, c, 0)
        pa, pb = _median(a, c, 1), _median(b, c, 1)
        ca, cb = _median(a, c, 2), _median(b, c, 2)
        lines.append(
            f"{c:>3} {ta:>11.1f} {tb:>11.1f} {tb / ta:>5.2f} {pa:>7.1f} {pb:>7.1f} "
            f"{ca:>9.2f} {cb:>9.2f} {cb / ca:>5.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    parser.add_argument("rev", help="the revision to compare with (A), e.g. main or a commit")
    parser.add_argument("--rounds", type=int, default=2, help="A-then-B rounds (default 2)")
    parser.add_argument(
        "--b-env", action="append", default=[], metavar="NAME=VALUE", help="a variable for B's runs only"
    )
    parser.add_argument(
        "--postgres", action="store_true",
        help="on PostgreSQL: a throwaway cluster, a fresh pair of databases for each run (passed to both "
        "revisions as --product-db-url and --order-db-url)",
    )  # fmt: skip
    parser.epilog = "arguments after -- go to both runs of python -m benchmarks"
    argv = sys.argv[1:] if argv is None else argv
    ours, bench_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(ours)
    bench_args = bench_args or DEFAULT_ARGS
    b_env = dict(item.split("=", 1) for item in args.b_env)
    cluster = throwaway_cluster() if args.postgres else None

    def arguments(run: str) -> list[str]:
        if cluster is None:
            return bench_args
        urls = [cluster.create_database(f"ab-{run}-{service}") for service in ("product", "order")]
        return [*bench_args, "--product-db-url", urls[0], "--order-db-url", urls[1]]

    with tempfile.TemporaryDirectory(prefix="eshop-ab-") as scratch:
        base = Path(scratch) / "a"
        subprocess.run(
            ["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(base), args.rev],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        try:
            reports: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
            for i in range(args.rounds):
                reports["a"].append(_run(base, arguments(f"a{i}"), Path(scratch) / f"a{i}.json"))
                reports["b"].append(_run(REPO_ROOT, arguments(f"b{i}"), Path(scratch) / f"b{i}.json", b_env))
                loads = [r["meta"]["load_average_before"][0] for r in (reports["a"][-1], reports["b"][-1])]
                print(f"round {i + 1}/{args.rounds} done (load average {loads})", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(base)], check=False
            )
            if cluster is not None:
                cluster.stop()
    b_is = "this tree" + (f" with {', '.join(sorted(b_env))}" if b_env else "")
    where = " on PostgreSQL (fresh databases per run)" if cluster is not None else ""
    loads = [r["meta"]["load_average_before"][0] for side in reports.values() for r in side]
    print(
        f"A = {args.rev}, B = {b_is}; medians of {args.rounds} alternating rounds{where} "
        f"({' '.join(bench_args)}); load average at each run's start {min(loads)}-{max(loads)}"
    )
    for workload in ("spread", "lean-aio", "lean-sync", "lean-aio-asyncpg", "lean-aio-psycopg"):
        a = [services(r, workload) for r in reports["a"]]
        b = [services(r, workload) for r in reports["b"]]
        if any(a) and any(b):
            print(f"\n{'services' if workload == 'spread' else workload + ' (control)'}:")
            print(compare(a, b))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
