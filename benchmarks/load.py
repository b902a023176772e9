"""The load generator: a separate process (its own GIL) running N client threads for a fixed time.

The parent calls ``run_load(spec, on_progress)``; that runs ``python -m benchmarks.load`` with the spec
as JSON on stdin, reads progress lines from its stdout while it runs, and returns the final result.
Every thread calls back-to-back (closed loop): a warm-up, then the measured window; a call counts
when it starts inside the window, and no thread starts one after it.

The load process also says when the window opens and closes, with its own CPU time then; the parent
reads the servers' CPU time at the same moments, so a phase reports the CPU each process spent per
measured call (cancels included) and how busy the machine's cores were.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import grpc

from benchmarks.services import REPO_ROOT, child_env, process_cpu_s
from benchmarks.stats import Samples, errors_only, latency_summary

PROGRESS_INTERVAL_S = 0.5
CALL_TIMEOUT_S = 10.0
ECHO_PAYLOAD = b"x" * 64
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class LoadSpec:
    kind: str  # "echo" or "order"
    target: str
    concurrency: int
    duration_s: float
    warmup_s: float
    product_ids: list[str] = field(default_factory=list)  # "order": each call picks one at random
    cancel_ratio: float = 0.0  # "order": this fraction of CONFIRMED orders is cancelled right after
    seed: int = 1


# ---- the child process -------------------------------------------------------------------------

Call = Callable[[random.Random, Samples, bool], None]
Reply = TypeVar("Reply")


def _timed(
    send: Callable[[], Reply], latencies_s: list[float], codes: Counter[str], measured: bool
) -> Reply | None:
    """Make one call; when ``measured``, record its latency and status code. None if it failed."""
    started = time.perf_counter()
    reply: Reply | None = None
    try:
        reply = send()
        code = "OK"
    except grpc.RpcError as error:
        code = error.code().name
    if measured:
        latencies_s.append(time.perf_counter() - started)
        codes[code] += 1
    return reply


def _echo_call(channel: grpc.Channel) -> Call:
    echo = channel.unary_unary("/benchmarks.Echo/Echo")

    def call(rng: random.Random, samples: Samples, measured: bool) -> None:
        _timed(
            lambda: echo(ECHO_PAYLOAD, timeout=CALL_TIMEOUT_S), samples.latencies_s, samples.codes, measured
        )

    return call


def _order_call(channel: grpc.Channel, spec: LoadSpec) -> Call:
    from common.generated.eshop.order.v1 import order_pb2 as pb
    from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc

    stub = pb_grpc.OrderServiceStub(channel)
    products = spec.product_ids
    customer_id = str(uuid.uuid4())

    def call(rng: random.Random, samples: Samples, measured: bool) -> None:
        request = pb.CreateOrderRequest(
            customer_id=customer_id,
            items=[pb.OrderLine(product_id=rng.choice(products), quantity=1)],
            # Fresh every call and every run (never from the seeded rng): a repeated request_id is
            # answered with the earlier order, which would measure the idempotency shortcut instead.
            request_id=str(uuid.uuid4()),
        )
        order = _timed(
            lambda: stub.CreateOrder(request, timeout=CALL_TIMEOUT_S),
            samples.latencies_s,
            samples.codes,
            measured,
        )
        if order is None:
            return
        confirmed = order.status == pb.ORDER_STATUS_CONFIRMED
        if measured and not confirmed:
            samples.rejected += 1  # stock ran out or a product was unknown: the run is invalid
            samples.rejected_reasons[_UUID.sub("<id>", order.status_reason)[:120]] += 1
        if confirmed and rng.random() < spec.cancel_ratio:
            cancel = pb.CancelOrderRequest(order_id=order.order_id)
            _timed(
                lambda: stub.CancelOrder(cancel, timeout=CALL_TIMEOUT_S),
                samples.cancel_latencies_s,
                samples.cancel_codes,
                measured,
            )

    return call


def _drive(spec: LoadSpec) -> dict[str, Any]:
    channel = grpc.insecure_channel(spec.target)
    grpc.channel_ready_future(channel).result(timeout=10)
    call = _echo_call(channel) if spec.kind == "echo" else _order_call(channel, spec)
    begin = time.perf_counter()
    window_start, window_end = begin + spec.warmup_s, begin + spec.warmup_s + spec.duration_s
    per_thread = [Samples() for _ in range(spec.concurrency)]

    def worker(index: int) -> None:
        rng = random.Random(spec.seed * 1_000_003 + index)
        samples = per_thread[index]
        while time.perf_counter() < window_end:
            started = time.perf_counter()
            call(rng, samples, started >= window_start)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(spec.concurrency)]
    edges = [
        threading.Timer(max(0.0, at - begin), _mark_window, (edge,))
        for edge, at in (("start", window_start), ("end", window_end))
    ]
    for thread in [*threads, *edges]:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(PROGRESS_INTERVAL_S)
        done = sum(len(s.latencies_s) for s in per_thread)
        errors = sum(sum(errors_only(s.codes).values()) + s.rejected for s in per_thread)
        now = time.perf_counter()
        _emit(
            {
                "type": "progress",
                "elapsed_s": now - begin,
                "total_s": window_end - begin,
                "warming_up": now < window_start,
                "calls": done,
                "errors": errors,
            }
        )
    channel.close()
    for edge in edges:
        edge.join()

    merged = Samples()
    for samples in per_thread:
        merged.merge(samples)
    return {
        "calls": len(merged.latencies_s),
        "throughput_per_s": round(len(merged.latencies_s) / spec.duration_s, 1),
        "latency_ms": latency_summary(merged.latencies_s),
        "errors_by_code": errors_only(merged.codes),
        "rejected_orders": merged.rejected,
        "rejected_reasons": dict(merged.rejected_reasons.most_common(5)),
        "cancels": {
            "calls": len(merged.cancel_latencies_s),
            "latency_ms": latency_summary(merged.cancel_latencies_s),
            "errors_by_code": errors_only(merged.cancel_codes),
        },
    }


_emit_lock = threading.Lock()


def _mark_window(edge: str) -> None:
    """Say that the measured window opens or closes now, with this process's CPU time so far."""
    _emit({"type": "window", "edge": edge, "cpu_s": time.process_time()})


def _emit(message: dict[str, Any]) -> None:
    with _emit_lock:  # progress from the main thread, window edges from timer threads
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def main() -> None:
    spec = LoadSpec(**json.load(sys.stdin))
    _emit({"type": "result", "result": _drive(spec)})


# ---- the parent side ---------------------------------------------------------------------------

Progress = Callable[[dict[str, Any]], None]


def run_load(
    spec: LoadSpec, on_progress: Progress, servers: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Run ``spec`` in a fresh load process; ``on_progress`` sees its progress messages.

    ``servers`` (name -> pid) are the processes whose CPU time the result accounts for, with the load's.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env({}),
        cwd=REPO_ROOT,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(asdict(spec)))
    process.stdin.close()
    result: dict[str, Any] | None = None
    cpu_at: dict[str, dict[str, float | None]] = {}  # edge -> process name -> CPU seconds then
    wall_at: dict[str, float] = {}
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "progress":
            on_progress(message)
        elif message["type"] == "window":
            wall_at[message["edge"]] = time.perf_counter()
            cpu_at[message["edge"]] = {
                "load": message["cpu_s"],
                **{name: process_cpu_s(pid) for name, pid in (servers or {}).items()},
            }
        else:
            result = message["result"]
    if process.wait() != 0 or result is None:
        raise RuntimeError(f"load process failed (exit {process.returncode})")
    return {**result, "cpu": cpu_accounting(cpu_at, wall_at, result["calls"])}


def cpu_accounting(
    cpu_at: dict[str, dict[str, float | None]], wall_at: dict[str, float], calls: int
) -> dict[str, Any] | None:
    """CPU ms per measured call for each process and in all, and the share of all cores kept busy."""
    start, end = cpu_at.get("start"), cpu_at.get("end")
    if start is None or end is None or not calls:
        return None
    spent_s: dict[str, float] = {}
    for name, before in start.items():
        after = end.get(name)
        if before is not None and after is not None:
            spent_s[name] = after - before
    wall_s = wall_at["end"] - wall_at["start"]
    total_s = sum(spent_s.values())
    return {
        "ms_per_call": {name: round(s / calls * 1000, 3) for name, s in spent_s.items()},
        "total_ms_per_call": round(total_s / calls * 1000, 3),
        "cores_busy": round(total_s / wall_s / (os.cpu_count() or 1), 3) if wall_s > 0 else None,
    }


if __name__ == "__main__":
    main()
