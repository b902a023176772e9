"""Sample the running services with py-spy (an external sampler: the services run unmodified).

Two views per service, both from ``py-spy record --pid`` collapsed stacks (``frame;frame;... count``):
- ``gil``: only the thread holding the GIL is sampled, i.e. where the process's one Python CPU goes;
- ``active``: every thread that is not idle, which includes threads blocked on a lock (the SQLite
  write lock, gRPC's call-state conditions) or waiting to get the GIL back.
Each is summarised as self time per leaf function, time per innermost frame of our own code (what our
line caused, library calls included), and inclusive time per cost bucket.
py-spy is a tool of this benchmark only (``pip install py-spy``), never a runtime dependency.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_RATE_HZ = 100
VIEWS = ("gil", "active")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")
_OURS = ("common/", "order/", "product/")

# Inclusive buckets: a sample counts in every bucket one of its frames ("func (file)") matches.
BUCKETS: dict[str, tuple[str, ...]] = {
    "loguru (logging calls)": ("(loguru/",),
    "SQLAlchemy (all, driver included)": ("(sqlalchemy/",),
    "SQLAlchemy statement building + cache key + compile": (
        "(sqlalchemy/sql/", "_generate_cache_key", "_compile_w_cache",
    ),
    "DB driver execute/commit (sqlite3 / psycopg)": ("do_execute", "do_commit", "do_rollback"),
    "SQLAlchemy connection pool": ("(sqlalchemy/pool/",),
    "protobuf (message building / parsing)": ("(google/protobuf/", "order_to_pb", "reservation_to_pb"),
    "gRPC server layer (grpc/_server.py)": ("(grpc/_server.py",),
    "gRPC client layer (grpc/_channel.py, interceptors)": ("(grpc/_channel.py", "(grpc/_interceptor.py"),
    "pydantic": ("(pydantic",),
    "uuid": ("(uuid.py",),
}  # fmt: skip


@dataclass
class Sampler:
    """A running ``py-spy record`` attached to one service."""

    service: str
    view: str
    out: Path
    process: subprocess.Popen[bytes]

    def wait(self, timeout_s: float) -> None:
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()


def py_spy() -> str | None:
    """py-spy on PATH, or next to this interpreter (a venv that is not activated)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def start_sampling(service: str, pid: int, duration_s: float, stem: Path) -> list[Sampler]:
    """One py-spy per view attached to ``pid``; writes ``<stem>.profile-<service>-<view>.txt``."""
    executable = py_spy()
    assert executable is not None, "py-spy not installed"
    samplers = []
    for view in VIEWS:
        out = stem.with_name(f"{stem.name}.profile-{service}-{view}.txt")
        command = [
            executable, "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s))),
            "--rate", str(SAMPLE_RATE_HZ), "--format", "raw", "--function", "--nonblocking",
            "--output", str(out), *(["--gil"] if view == "gil" else []),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samplers.append(Sampler(service, view, out, process))
    return samplers


def _frames(stack: str) -> list[str]:
    """``func (file)`` per frame, outermost first, line numbers dropped."""
    frames = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw)
        frames.append(f"{match['func']} ({match['file']})" if match else raw)
    return frames


def _is_ours(frame: str) -> bool:
    return any(f"({prefix}" in frame for prefix in _OURS)


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    self_time: Counter[str] = Counter()
    innermost_ours: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = _frames(stack)
        self_time[frames[-1]] += count
        innermost_ours[next((f for f in reversed(frames) if _is_ours(f)), "(outside our code)")] += count
        for bucket, needles in BUCKETS.items():
            if any(n in f for f in frames for n in needles):
                buckets[bucket] += count

    def shares(counter: Counter[str], limit: int | None = top) -> list[dict[str, Any]]:
        return [
            {"name": k, "percent": round(100 * v / total, 1), "samples": v}
            for k, v in counter.most_common(limit)
        ]

    return {
        "samples": total,
        "buckets_inclusive": shares(buckets, None),
        "self_top": shares(self_time),
        "innermost_own_frame_top": shares(innermost_ours),
    }


def summarise_all(samplers: Sequence[Sampler]) -> dict[str, Any]:
    """``{service: {view: summary}}``."""
    result: dict[str, Any] = {}
    for sampler in samplers:
        view: dict[str, Any] = {"raw_file": str(sampler.out)}
        if sampler.out.exists():
            view.update(summarise(sampler.out))
        else:
            view["error"] = "py-spy wrote nothing (is ptrace permitted?)"
        result.setdefault(sampler.service, {})[sampler.view] = view
    return result


def render(profiles: dict[str, Any], top: int = 8) -> str:
    lines = []
    for service, views in profiles.items():
        for view, summary in views.items():
            lines.append(f"profile {service} [{view}] ({summary.get('samples', 0)} samples)")
            for key in ("buckets_inclusive", "self_top", "innermost_own_frame_top"):
                lines.append(f"  {key}:")
                lines += [f"    {e['percent']:5.1f}%  {e['name']}" for e in summary.get(key, [])[:top]]
    return "\n".join(lines)
