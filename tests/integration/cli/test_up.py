"""`eshop up` as a person runs it: both services, a demo catalogue, an order, Ctrl-C, and a restart."""

from __future__ import annotations

import json
import re
import signal
import stat
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from eshop_cli import health
from tests.integration.cli.conftest import cli_env, eshop_command, run_eshop
from tests.integration.cli.test_products import UUID
from tests.support.ports import free_address, free_port

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def wait_until(
    condition: str, check: Callable[[], bool], proc: subprocess.Popen[bytes], stderr: Path
) -> None:
    """Poll ``check`` until true; fail if ``eshop up`` exits first or READY_TIMEOUT_S passes."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not check():
        assert proc.poll() is None, f"eshop up exited {proc.returncode}:\n{stderr.read_text()}"
        assert time.monotonic() < deadline, f"{condition} not reached:\n{stderr.read_text()}"
        time.sleep(0.1)


@contextmanager
def eshop_up(
    workdir: Path, env: dict[str, str], product: str, order: str, *options: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``eshop up`` in ``workdir``, yielded once both services are SERVING and it has printed its summary."""
    stdout, stderr = workdir / "up.out", workdir / "up.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(eshop_command("up", *options), cwd=workdir, env=env, stdout=out, stderr=err)

    def both_serving() -> bool:
        return all(health.check(target, 1.0) == health.SERVING for target in (product, order))

    try:
        wait_until("both services SERVING", both_serving, proc, stderr)
        wait_until("the summary printed", lambda: "try:" in stdout.read_text(), proc, stderr)
        yield proc
    finally:
        if proc.poll() is None:  # a failed assertion: stop it the way a person would, then make sure
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
