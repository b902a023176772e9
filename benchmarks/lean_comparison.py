"""The services and the lean references side by side, as ratios to the chain and to the best lean one.

At each concurrency the chain ran: calls/s, p50/p95/p99 and CPU per call of each subject; its
throughput over the chain's; and its throughput, p99 and CPU per call over those of the best lean
reference there (the one with the highest throughput). Ratios only mean something within one run.
"""

from __future__ import annotations

from typing import Any

LABELS = {
    "echo": "echo chain",
    "spread": "services",
    "spread-asyncpg": "services asyncpg",  # the measurement that moved them (reports of that time)
    "lean-sync": "lean sync",
    "lean-aio": "lean aio",
    "lean-aio-psycopg": "lean aio psycopg async",
    "lean-aio-asyncpg": "lean aio asyncpg",
}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _cpu_ms(phase: dict[str, Any]) -> float | None:
    cpu = phase.get("cpu")
    return None if cpu is None else float(cpu["total_ms_per_call"])


def build(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    timed = [p for p in phases if not p.get("diagnostic")]
    for chain in (p for p in timed if p["workload"] == "echo"):
        n = chain["concurrency"]
        subjects = [p for p in timed if p["concurrency"] == n and p["workload"] in LABELS]
        leans = [p for p in subjects if p["workload"].startswith("lean-")]
        best = max(leans, key=lambda p: float(p["throughput_per_s"]), default=None)
        for phase in subjects:
            latency = phase["latency_ms"]
            row: dict[str, Any] = {
                "concurrency": n,
                "subject": phase["workload"],
                "per_s": phase["throughput_per_s"],
                "p50_ms": latency["p50"],
                "p95_ms": latency["p95"],
                "p99_ms": latency["p99"],
                "cpu_ms": _cpu_ms(phase),
                "cpu_ms_by_process": (phase.get("cpu") or {}).get("ms_per_call"),
                "throughput_vs_chain": _ratio(phase["throughput_per_s"], chain["throughput_per_s"]),
                "best_lean": None if best is None else best["workload"],
            }
            if best is not None:
                row["throughput_vs_best_lean"] = _ratio(phase["throughput_per_s"], best["throughput_per_s"])
                row["p99_vs_best_lean"] = _ratio(latency["p99"], best["latency_ms"]["p99"])
                row["cpu_vs_best_lean"] = _ratio(_cpu_ms(phase), _cpu_ms(best))
            rows.append(row)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "Against the chain and the best lean reference (x: ratio of throughput, p99, CPU per call):",
        f"{'c':>3} {'subject':<22} {'calls/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'cpu ms':>7} "
        f"{'x chain':>8} {'x lean':>7} {'p99 x':>6} {'cpu x':>6}",
    ]
    for r in rows:
        lines.append(
            f"{r['concurrency']:>3} {LABELS[r['subject']]:<22} {r['per_s']:>9.1f} {r['p50_ms']:>8.2f} "
            f"{r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} {_fmt(r['cpu_ms']):>7} "
            f"{_fmt(r['throughput_vs_chain']):>8} "
            f"{_fmt(r.get('throughput_vs_best_lean')):>7} {_fmt(r.get('p99_vs_best_lean')):>6} "
            f"{_fmt(r.get('cpu_vs_best_lean')):>6}"
        )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
