"""`eshop up` as a person runs it: both services, a demo catalogue, an order, Ctrl-C, and a restart."""

from __future__ import annotations

import json
import re
import signal
import stat
import urllib.request
from pathlib import Path

from eshop_cli import health
from tests.support.cli import (
    STOP_TIMEOUT_S,
    UUID,
    cli_env,
    eshop_up,
    run_eshop,
)
from tests.support.ports import free_address, free_port


def test_up_seeds_once_serves_orders_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    product, order = free_address(), free_address()
    product_metrics, order_metrics = free_port(), free_port()
    env = cli_env(
        PRODUCT_LISTEN_ADDRESS=product,
        ORDER_LISTEN_ADDRESS=order,
        ORDER_PRODUCT_SERVICE_TARGET=product,
        # Every interface, as in a container: the summary shows a URL that works from here.
        PRODUCT_METRICS_ADDRESS=f"0.0.0.0:{product_metrics}",
        ORDER_METRICS_ADDRESS=f"127.0.0.1:{order_metrics}",
    )

    with eshop_up(tmp_path, env, product, order) as proc:
        summary = (tmp_path / "up.out").read_text()
        assert product in summary
        assert order in summary
        for name, port in (("product", product_metrics), ("order", order_metrics)):
            url = f"http://127.0.0.1:{port}/metrics"
            assert f"  {name:<8} metrics  {url}\n" in summary
            with urllib.request.urlopen(url, timeout=5) as response:
                assert b"process_start_time_seconds" in response.read()
        assert "seeded 5 demo products" in summary
        demo_ids = re.findall(UUID, summary.split("try:")[0])
        assert len(set(demo_ids)) == 5
        assert f"eshop orders create --item {demo_ids[0]}:2" in summary

        created = run_eshop("orders", "create", "--item", f"{demo_ids[0]}:2", "--json", env=env)
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["status"] == "ORDER_STATUS_CONFIRMED"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 0
    assert (tmp_path / ".eshop" / "product.db").exists()
    assert (tmp_path / ".eshop" / "order.db").exists()

    # A restart finds the catalogue (and the order) and does not seed again.
    with eshop_up(tmp_path, env, product, order) as proc:
        assert "not seeded again" in (tmp_path / "up.out").read_text()
        listed = run_eshop("products", "list", "--json", env=env)
        assert len(json.loads(listed.stdout)["products"]) == 5
        orders = run_eshop("orders", "list", "--json", env=env)
        assert len(json.loads(orders.stdout)["orders"]) == 1

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 0
    assert health.check(product, 1.0) == health.UNREACHABLE
    assert health.check(order, 1.0) == health.UNREACHABLE


def test_up_keeps_what_it_creates_to_its_user(tmp_path: Path) -> None:
    """./.eshop/ 0700 (also when an earlier run left it 0755), and every file in it 0600: the databases
    (with SQLite's -wal and -shm), the dev signing key and JWKS, the Order service's token."""
    (tmp_path / ".eshop").mkdir(mode=0o755)
    (tmp_path / ".eshop").chmod(0o755)
    product, order = free_address(), free_address()
    env = cli_env(
        PRODUCT_LISTEN_ADDRESS=product, ORDER_LISTEN_ADDRESS=order, ORDER_PRODUCT_SERVICE_TARGET=product
    )

    with eshop_up(tmp_path, env, product, order, "--auth") as proc:
        state = tmp_path / ".eshop"
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in state.iterdir()}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 0

    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    expected = {"product.db", "order.db", "dev-signing-key.pem", "dev-jwks.json", "order-service.token"}
    assert expected <= modes.keys()
    assert {name: mode for name, mode in modes.items() if mode != 0o600} == {}
