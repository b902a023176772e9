"""``eshop events watch`` prints the events as they arrive: a line per event for people, one JSON
object per line with ``--json``, only the types asked with ``--type``."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.generated.eshop.product.v1 import product_pb2 as pb
from tests.integration.cli.test_up import STOP_TIMEOUT_S, eshop_up
from tests.support.cli import cli_env, eshop_command
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.ports import free_address
from tests.support.rabbitmq_broker import PrivateRabbit
from tests.support.servers import Servers

pytestmark = pytest.mark.slow


@pytest.fixture
def watchers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _watch(
    watchers: list[subprocess.Popen[str]], *args: str, before: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """``eshop [before] events watch [args]``."""
    process = subprocess.Popen(
        eshop_command(*before, "events", "watch", *args),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchers.append(process)
    assert process.stderr is not None
    ready = process.stderr.readline()  # bound to the exchange once this line is out
    assert ready.startswith("watching "), ready + (
        process.stderr.read() if process.poll() is not None else ""
    )
    return process


def test_watch_prints_each_event_as_it_arrives(
    services: Servers, rabbitmq: PrivateRabbit, exchange: str, watchers: list[subprocess.Popen[str]]
) -> None:
    # The global --json, given before the command, as `eshop --json products list` takes it.
    as_json = _watch(
        watchers, "--broker", rabbitmq.url, "--exchange", exchange, "--limit", "3", before=("--json",)
    )
    asked = ("--type", "StockLow", "eshop.order.v1.OrderConfirmed")  # several types after one --type
    low_only = _watch(watchers, "--broker", rabbitmq.url, "--exchange", exchange, *asked, "--limit", "2")
    product_server = services.product()
    products = services.product_stub(product_server)
    orders = services.order_stub(services.order(product_server.port))

    product = create_product(products, stock=3, low_stock_threshold=1, name="Kettle")
    order = orders.CreateOrder(order_request(new_id(), (product.product_id, 2)), timeout=10)

    out, _ = as_json.communicate(timeout=30)
    lines = [json.loads(line) for line in out.splitlines()]
    assert as_json.returncode == 0
    by_type = {line["type"]: line for line in lines}
    assert set(by_type) == {
        "eshop.product.v1.ProductCreated",
        "eshop.product.v1.StockLow",
        "eshop.order.v1.OrderConfirmed",
    }
    created = by_type["eshop.product.v1.ProductCreated"]
    assert created["subject"] == product.product_id and created["source"] == "/eshop/product"
    assert created["data"]["product"]["name"] == "Kettle"
    confirmed = by_type["eshop.order.v1.OrderConfirmed"]
    assert confirmed["data"]["order"]["orderId"] == order.order_id
    assert confirmed["data"]["order"]["status"] == "ORDER_STATUS_CONFIRMED"
    assert all(line["id"] and line["time"] and line["correlation_id"] for line in lines)

    text, _ = low_only.communicate(timeout=30)
    assert low_only.returncode == 0
    [low] = [line for line in text.splitlines() if "StockLow" in line]
    assert product.product_id in low and "stock 1 (threshold 1)" in low
    [confirmed_line] = [line for line in text.splitlines() if "OrderConfirmed" in line]
    assert order.order_id in confirmed_line


def test_watch_without_a_broker_is_a_usage_error_and_an_unreachable_one_is_worth_retrying() -> None:
    missing = subprocess.run(
        eshop_command("events", "watch"), env=cli_env(), capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2 and "--broker" in missing.stderr
    down = subprocess.run(
        eshop_command("events", "watch", "--broker", "amqp://127.0.0.1:1/"),
        env=cli_env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 5
    assert down.stderr.strip().splitlines() == [
        "eshop events watch: cannot reach the broker amqp://127.0.0.1:1/: "
        "[Errno 111] Connect call failed ('127.0.0.1', 1)"
    ]
    unknown = subprocess.run(
        eshop_command("events", "watch", "--broker", "amqp://127.0.0.1:1/", "--type", "OrderShipped"),
        env=cli_env(),
        check=False,
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 2 and "unknown event type 'OrderShipped'" in unknown.stderr


def test_a_watcher_started_later_sees_only_what_comes_after(
    services: Servers, rabbitmq: PrivateRabbit, exchange: str, watchers: list[subprocess.Popen[str]]
) -> None:
    products = services.product_stub(services.product())
    before = create_product(products).product_id
    watcher = _watch(watchers, "--broker", rabbitmq.url, "--exchange", exchange, "--json", "--limit", "1")
    products.DeleteProduct(pb.DeleteProductRequest(product_id=before), timeout=10)
    out, _ = watcher.communicate(timeout=30)
    [line] = [json.loads(x) for x in out.splitlines()]
    assert line["type"] == "eshop.product.v1.ProductDeleted"
    wait_until(lambda: watcher.returncode == 0, 5, "the watcher to end")


def test_eshop_up_with_an_events_broker_publishes_the_demo_catalogue(
    tmp_path: Path, rabbitmq: PrivateRabbit, exchange: str, watchers: list[subprocess.Popen[str]]
) -> None:
    watcher = _watch(watchers, "--broker", rabbitmq.url, "--exchange", exchange, "--json", "--limit", "5")
    product, order = free_address(), free_address()
    env = cli_env(
        PRODUCT_LISTEN_ADDRESS=product,
        ORDER_LISTEN_ADDRESS=order,
        ORDER_PRODUCT_SERVICE_TARGET=product,
        PRODUCT_EVENTS_EXCHANGE=exchange,
        ORDER_EVENTS_EXCHANGE=exchange,
    )
    with eshop_up(tmp_path, env, product, order, "--events-broker", rabbitmq.url) as proc:
        summary = (tmp_path / "up.out").read_text()
        shown = rabbitmq.url.replace(":eshop-test@", ":***@")
        assert f"  product  events   exchange {exchange} at {shown}" in summary
        assert f"  order    events   exchange {exchange} at {shown}" in summary
        out, _ = watcher.communicate(timeout=30)
        created = [json.loads(line) for line in out.splitlines()]
        assert [c["type"] for c in created] == ["eshop.product.v1.ProductCreated"] * 5
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT_S) == 0
