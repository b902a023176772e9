"""The soak's smoke run: ``python -m benchmarks.soak`` for a few seconds on this session's PostgreSQL,
with sessions terminated every two seconds; it must end with a complete report, no call answered with
a status it should not have, and the stock adding up. The 5-minute soak itself runs on demand (its
figures are in docs/performance.md); its numbers are not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.backend import backend
from tests.support.postgres_cluster import PostgresServer
from tests.support.processes import ORDER_TEST_ENV

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_a_short_soak_with_terminations_reports_no_unexpected_status(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend() != "postgres":
        pytest.skip("the soak runs on PostgreSQL (ESHOP_TEST_BACKEND=postgres)")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    out = tmp_path / "soak.json"
    env = dict(os.environ)
    # `benchmarks` and `tests` live in the repository; the services come from wherever this test
    # imports them (the installed package under tox, src/ with PYTHONPATH=src).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    # The reconciler and outbox at the tests' pace: an order a termination left PENDING is resolved in
    # seconds, not after the default 30 s, before the soak reads the stock back.
    env.update(ORDER_TEST_ENV)
    admin = server.admin_url.render_as_string(hide_password=False)
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--duration", "6", "--terminate-every", "2",
         "--sample-every", "2", "--clients", "4", "--server-url", admin, "--out", str(out)],
        check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(out.read_text())

    assert report["unexpected"] == {}
    assert report["stock_conserved"] is True
    assert len(report["terminations"]) >= 2
    assert all(t["sessions"] > 0 for t in report["terminations"])
    assert {"CreateOrder OK", "CancelOrder OK", "ListOrders OK"} <= report["codes"].keys()
    assert report["codes"]["CreateOrder(quantity 0) INVALID_ARGUMENT"] > 0
    assert report["codes"]["GetOrder(unknown) NOT_FOUND"] > 0
    for service in ("product", "order"):
        summary = report["summary"][service]
        assert summary["rss_mb_last"] > 0
        assert summary["db_sessions_max"] > 0
