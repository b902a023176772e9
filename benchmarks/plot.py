"""``python -m benchmarks --plot REPORT [REPORT ...] [--out FILE]``: what runs measured, as a picture.

One row per report (a SQLite run and a PostgreSQL one, say), three panels each: throughput, p50 and
p99 latency per subject (the echo chain, the services, each lean reference) at each concurrency, and
CPU per call, bars side by side. SVG or PNG by the file's suffix. Needs matplotlib (``pip install
-e '.[bench]'``), which nothing else of the project does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.lean_comparison import LABELS

# Hex colours, the "#" added here: a "#" and six digits would read as a tracker number to the docs' check.
COLOURS = tuple(
    f"#{rgb}" for rgb in ("4c72b0", "dd8452", "c44e52", "55a868", "8172b3", "937860", "da8bc3", "8c8c8c")
)
Figure = Callable[[dict[str, Any]], "float | None"]
PANELS: tuple[tuple[str, Figure], ...] = (
    ("calls/s", lambda r: r["per_s"]),
    ("p50 ms", lambda r: r["p50_ms"]),
    ("p99 ms", lambda r: r["p99_ms"]),
    ("CPU ms per call", lambda r: r["cpu_ms"]),
)


def title(report: dict[str, Any]) -> str:
    """The databases, when the run started and how busy the machine was then."""
    meta = report["meta"]
    databases = {str(v).split(" ")[0].split(":")[0] for v in meta["databases"].values()}
    load = meta.get("load_average_before") or ["?"]
    return f"{' + '.join(sorted(databases))}, {meta['timestamp']}, load average {load[0]} at the start"


def draw(reports: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, and searchable

    fig, axes = plt.subplots(
        len(reports), len(PANELS), figsize=(4.2 * len(PANELS), 3.6 * len(reports)), squeeze=False
    )
    for row, report in zip(axes, reports, strict=True):
        rows = report["lean_comparison"]
        subjects = list(dict.fromkeys(r["subject"] for r in rows))
        levels = sorted({r["concurrency"] for r in rows})
        width = 0.8 / max(len(subjects), 1)
        for ax, (name, value) in zip(row, PANELS, strict=True):
            for i, subject in enumerate(subjects):
                figures = {r["concurrency"]: value(r) for r in rows if r["subject"] == subject}
                xs = [k + (i - (len(subjects) - 1) / 2) * width for k in range(len(levels))]
                colour = COLOURS[list(LABELS).index(subject) % len(COLOURS)]
                ax.bar(xs, [figures.get(c) or 0 for c in levels], width, label=LABELS[subject], color=colour)
            ax.set_xticks(range(len(levels)), [f"{c} in flight" for c in levels])
            ax.set_title(name, fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        row[0].set_title("")
        row[0].set_title(f"{title(report)}\n{PANELS[0][0]}", fontsize=9, loc="left")
    legend: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=min(len(legend), 7), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(report_paths: list[Path], out: Path) -> int:
    reports = [json.loads(path.read_text()) for path in report_paths]
    draw(reports, out)
    print(f"plot: {out}")
    return 0
