"""Run a service with every SQL statement counted per RPC method (``--count-queries``).

Started as ``python -c "from benchmarks.query_count import serve; serve('order')"``. It is the service's
own ``serve`` plus an outermost interceptor that names the RPC being served (a ContextVar reaches the
transaction, on the loop or on a PostgreSQL thread) and SQLAlchemy engine events that count
statements, transactions and compiled-cache hits under that name. Statements outside RPCs (health
probe, outbox, reconciler) are not counted. On SIGTERM it writes ``$BENCH_QUERY_LOG_DIR/<service>.json``.
Not used for timing: events cost time.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter, defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from common import service as common_service
from common.grpc.handler_wrapping import Behaviour, Context, UnaryServerInterceptor

_method: ContextVar[str | None] = ContextVar("bench_rpc_method", default=None)
_SHAPE = re.compile(
    r"^\s*(SELECT\b.*?\bFROM\s+(\w+)|INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)|UPDATE\s+(\w+)|"
    r"DELETE\s+FROM\s+(\w+)|\w+(?:\s+\w+)?)",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class MethodStats:
    calls: int = 0
    statements: Counter[str] = field(default_factory=Counter)
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    cache: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        per_call = max(self.calls, 1)
        return {
            "calls": self.calls,
            "statements_per_call": round(sum(self.statements.values()) / per_call, 2),
            "begins_per_call": round(self.begins / per_call, 2),
            "commits_per_call": round(self.commits / per_call, 2),
            # On PostgreSQL each is a round trip (BEGIN is said at once; an executemany is pipelined).
            "round_trips_per_call": round(
                (self.begins + sum(self.statements.values()) + self.commits + self.rollbacks) / per_call, 2
            ),
            "rollbacks_per_call": round(self.rollbacks / per_call, 2),
            "by_statement_per_call": {k: round(v / per_call, 2) for k, v in self.statements.most_common()},
            "compiled_cache": dict(self.cache),
        }


_stats: defaultdict[str, MethodStats] = defaultdict(MethodStats)
_lock = threading.Lock()


def statement_shape(sql: str) -> str:
    """``SELECT orders``, ``INSERT order_lines``, ``BEGIN IMMEDIATE``: the verb and the table."""
    match = _SHAPE.match(sql)
    if match is None:
        return sql[:30]
    table = next((g for g in match.groups()[1:] if g), None)
    verb = match.group(1).split()[0].upper()
    return f"{verb} {table}" if table else " ".join(match.group(1).split()).upper()


def _count(kind: str, key: str) -> None:
    method = _method.get()
    if method is None:
        return
    with _lock:
        stats = _stats[method]
        if kind == "statement":
            stats.statements[key] += 1
        elif kind == "cache":
            stats.cache[key] += 1
        elif kind == "begin":
            stats.begins += 1
        elif kind == "commit":
            stats.commits += 1
        else:
            stats.rollbacks += 1


# SQLAlchemy's before_cursor_execute signature, positional by contract.
def _on_execute(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:  # noqa: PLR0917
    _count("statement", statement_shape(sql) + (" (executemany)" if many else ""))
    compiled = getattr(context, "compiled", None)
    if compiled is not None:
        hit = getattr(context, "cache_hit", None)
        _count("cache", getattr(hit, "name", str(hit)))


def _on_begin(conn: Any) -> None:
    _count("begin", "")


def _on_commit(conn: Any) -> None:
    _count("commit", "")


def _on_rollback(conn: Any) -> None:
    _count("rollback", "")


_LISTENERS = (
    ("before_cursor_execute", _on_execute),
    ("begin", _on_begin),
    ("commit", _on_commit),
    ("rollback", _on_rollback),
)


def install_listeners() -> None:
    """Count from now on, from zero, on every engine of the process."""
    with _lock:
        _stats.clear()
    for name, listener in _LISTENERS:
        event.listen(Engine, name, listener)


def remove_listeners() -> None:
    for name, listener in _LISTENERS:
        event.remove(Engine, name, listener)


def counted() -> dict[str, dict[str, Any]]:
    """The figures so far, by RPC method (as the statistics file has them)."""
    with _lock:
        return {name: stats.as_dict() for name, stats in sorted(_stats.items())}


class RpcNamingInterceptor(UnaryServerInterceptor):
    async def around(self, behaviour: Behaviour, request: Any, context: Context, method: str) -> Any:
        token = _method.set(method)
        with _lock:
            _stats[method].calls += 1
        try:
            return await behaviour(request, context)
        finally:
            _method.reset(token)


def serve(service: str) -> None:
    """The service's own ``serve`` with the counting interceptor, then the statistics file."""
    install_listeners()
    from order.server import ORDER
    from product.server import PRODUCT

    declared = PRODUCT if service == "product" else ORDER
    common_service.serve(declared, extra_interceptors=[RpcNamingInterceptor()])
    out = Path(os.environ["BENCH_QUERY_LOG_DIR"]) / f"{service}.json"
    out.write_text(json.dumps({"service": service, "methods": counted()}, indent=2))
