"""What the load threads record, and the summaries made of it (percentiles, error counts)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Samples:
    """What one thread saw in the measured window (merged once the threads are done)."""

    latencies_s: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    rejected_reasons: Counter[str] = field(default_factory=Counter)
    cancel_latencies_s: list[float] = field(default_factory=list)
    cancel_codes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Samples) -> None:
        self.latencies_s += other.latencies_s
        self.codes.update(other.codes)
        self.rejected += other.rejected
        self.rejected_reasons.update(other.rejected_reasons)
        self.cancel_latencies_s += other.cancel_latencies_s
        self.cancel_codes.update(other.cancel_codes)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    values = sorted(latencies_s)
    ms = {f"p{p}": percentile(values, p / 100) * 1000 for p in (50, 95, 99)}
    ms["mean"] = sum(values) / len(values) * 1000 if values else 0.0
    ms["max"] = values[-1] * 1000 if values else 0.0
    return {k: round(v, 3) for k, v in ms.items()}


def errors_only(codes: Counter[str]) -> dict[str, int]:
    return {code: n for code, n in sorted(codes.items()) if code != "OK"}
