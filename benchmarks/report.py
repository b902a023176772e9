"""Turn phase results into the comparison, the target verdicts, a printed table and the JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import lean_comparison

TARGET_CONCURRENCY = 16
MIN_THROUGHPUT_RATIO = 0.5
MAX_P99_RATIO = 3.0
MIN_HOT_RATIO = 0.5


def _find(phases: list[dict[str, Any]], workload: str, concurrency: int) -> dict[str, Any] | None:
    return next((p for p in phases if p["workload"] == workload and p["concurrency"] == concurrency), None)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def phase_errors(phase: dict[str, Any]) -> int:
    return int(
        sum(phase["errors_by_code"].values())
        + phase["rejected_orders"]
        + sum(phase["cancels"]["errors_by_code"].values())
    )


def _cpu_ms(phase: dict[str, Any]) -> float | None:
    cpu = phase.get("cpu")
    return None if cpu is None else float(cpu["total_ms_per_call"])


def compare(phases: list[dict[str, Any]], hot_concurrency: int) -> dict[str, Any]:
    """CreateOrder vs the echo chain at every concurrency both ran, and hot vs spread."""
    rows = []
    for order in (p for p in phases if p["workload"] == "spread"):
        chain = _find(phases, "echo", order["concurrency"])
        if chain is None:
            continue
        rows.append(
            {
                "concurrency": order["concurrency"],
                "order_per_s": order["throughput_per_s"],
                "chain_per_s": chain["throughput_per_s"],
                "throughput_ratio": _ratio(order["throughput_per_s"], chain["throughput_per_s"]),
                "order_p99_ms": order["latency_ms"]["p99"],
                "chain_p99_ms": chain["latency_ms"]["p99"],
                "p99_ratio": _ratio(order["latency_ms"]["p99"], chain["latency_ms"]["p99"]),
                # What the throughput ratio would be with every core busy in both phases: the chain's
                # CPU per call over CreateOrder's (all processes: load, servers).
                "chain_cpu_ms": (chain_cpu := _cpu_ms(chain)),
                "order_cpu_ms": (order_cpu := _cpu_ms(order)),
                "cpu_ratio": _ratio(chain_cpu, order_cpu) if chain_cpu and order_cpu else None,
            }
        )
    hot, spread = _find(phases, "hot", hot_concurrency), _find(phases, "spread", hot_concurrency)
    hot_vs_spread = {
        "concurrency": hot_concurrency,
        "hot_per_s": hot["throughput_per_s"] if hot else None,
        "spread_per_s": spread["throughput_per_s"] if spread else None,
        "ratio": _ratio(hot["throughput_per_s"], spread["throughput_per_s"]) if hot and spread else None,
    }
    return {"comparison": rows, "hot_vs_spread": hot_vs_spread}


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets as verdicts (reported, never asserted)."""
    row = next((r for r in report["comparison"] if r["concurrency"] == TARGET_CONCURRENCY), None)
    hot = report["hot_vs_spread"]["ratio"]

    def verdict(name: str, value: float | None, limit: float, at_least: bool) -> dict[str, Any]:
        passed = value is not None and (value >= limit if at_least else value <= limit)
        return {"name": name, "value": value, "limit": limit, "passed": passed}

    return [
        verdict(
            f"CreateOrder throughput at c={TARGET_CONCURRENCY} >= {MIN_THROUGHPUT_RATIO:.0%} of the chain",
            row["throughput_ratio"] if row else None,
            MIN_THROUGHPUT_RATIO,
            at_least=True,
        ),
        verdict(
            f"CreateOrder p99 at c={TARGET_CONCURRENCY} <= {MAX_P99_RATIO:g}x the chain's p99",
            row["p99_ratio"] if row else None,
            MAX_P99_RATIO,
            at_least=False,
        ),
        verdict(f"hot-product throughput >= {MIN_HOT_RATIO:.0%} of spread", hot, MIN_HOT_RATIO, True),
        verdict("zero errors (any status but OK, or a REJECTED order)", report["total_errors"], 0, False),
    ]


def build(meta: dict[str, Any], phases: list[dict[str, Any]], hot_concurrency: int) -> dict[str, Any]:
    report: dict[str, Any] = {"meta": meta, "phases": phases, **compare(phases, hot_concurrency)}
    report["lean_comparison"] = lean_comparison.build(phases)
    report["total_errors"] = sum(phase_errors(p) for p in phases if not p.get("diagnostic"))
    report["targets"] = targets(report)
    return report


def render(report: dict[str, Any]) -> str:
    """The human-readable summary printed at the end of a run."""
    lines = [
        f"{'phase':<22} {'c':>3} {'calls/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'cancels':>7} {'errors':<20}"
    ]
    for p in report["phases"]:
        errors = {
            **p["errors_by_code"],
            **{f"cancel:{k}": v for k, v in p["cancels"]["errors_by_code"].items()},
        }
        if p["rejected_orders"]:
            errors["REJECTED"] = p["rejected_orders"]
        latency = p["latency_ms"]
        lines.append(
            f"{p['name']:<22} {p['concurrency']:>3} {p['throughput_per_s']:>9.1f} {latency['p50']:>8.2f} "
            f"{latency['p95']:>8.2f} {latency['p99']:>8.2f} {p['cancels']['calls']:>7} "
            f"{json.dumps(errors) if errors else '0':<20}"
        )
    lines += ["", "CPU per measured call, by process (ms), and the share of all cores busy:"]
    lines += [f"  {p['name']:<22} {_render_cpu(p.get('cpu'))}" for p in report["phases"]]
    lines += [
        "",
        f"{'c':>3} {'order/s':>9} {'chain/s':>9} {'ratio':>7} {'p99 order':>10} {'p99 chain':>10} "
        f"{'p99 ratio':>9} {'cpu ratio':>9}",
    ]
    for r in report["comparison"]:
        lines.append(
            f"{r['concurrency']:>3} {r['order_per_s']:>9.1f} {r['chain_per_s']:>9.1f} "
            f"{_fmt(r['throughput_ratio']):>7} {r['order_p99_ms']:>10.2f} {r['chain_p99_ms']:>10.2f} "
            f"{_fmt(r['p99_ratio']):>9} {_fmt(r.get('cpu_ratio')):>9}"
        )
    if any(r["subject"].startswith("lean-") for r in report.get("lean_comparison", [])):
        lines += ["", lean_comparison.render(report["lean_comparison"])]
    hvs = report["hot_vs_spread"]
    lines += [
        "",
        f"hot vs spread at c={hvs['concurrency']}: {hvs['hot_per_s']} vs {hvs['spread_per_s']} calls/s "
        f"(ratio {_fmt(hvs['ratio'])})",
        "",
    ]
    lines += [
        f"{'PASS' if t['passed'] else 'FAIL'}  {t['name']}: {_fmt(t['value'])}" for t in report["targets"]
    ]
    return "\n".join(lines)


def render_query_counts(counts: dict[str, Any]) -> str:
    """Statements and transactions per call of each RPC the count run served."""
    lines = ["SQL per RPC (sequential count run):"]
    for service in ("order", "product"):
        methods = counts.get(service)
        if not isinstance(methods, dict):
            lines.append(f"  {service}: {methods}")
            continue
        for method, stats in methods.items():
            if not stats["statements_per_call"]:
                continue
            shapes = ", ".join(f"{k} x{v:g}" for k, v in stats["by_statement_per_call"].items())
            lines.append(
                f"  {method.rsplit('/', 1)[-1]:<14} {stats['statements_per_call']:>4g} statements, "
                f"{stats.get('begins_per_call', 0):g} begins, {stats['commits_per_call']:g} commits "
                f"({stats.get('round_trips_per_call', 0):g} round trips on PostgreSQL), "
                f"cache {stats['compiled_cache']}: {shapes}"
            )
    return "\n".join(lines)


def _render_cpu(cpu: dict[str, Any] | None) -> str:
    if cpu is None:
        return "n/a (no /proc on this system)"
    parts = " + ".join(f"{name} {ms:.2f}" for name, ms in cpu["ms_per_call"].items())
    busy = "" if cpu["cores_busy"] is None else f", cores {cpu['cores_busy']:.0%} busy"
    return f"{parts} = {cpu['total_ms_per_call']:.2f} ms{busy}"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def write(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
