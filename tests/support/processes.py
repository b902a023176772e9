"""Services under test: real child processes we can SIGKILL and restart on the same port and database,
or servers in this process (for faults injected by interceptors)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc

import product
from common.generated.eshop.order.v1 import order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2_grpc
from order.container import OrderContainer
from product.container import ProductContainer
from tests.support.faults import READINESS, SERVING, health_status
from tests.support.ports import free_port
from tests.support.servers import RunningServer

SRC_DIR = Path(product.__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 60.0  # a cold interpreter, grpc and migrations on a busy 2-core machine

# Fast background work so that faults are repaired within a test's time budget.
ORDER_TEST_ENV = {
    "ORDER_OUTBOX_POLL_INTERVAL_S": "0.1",
    "ORDER_OUTBOX_INITIAL_BACKOFF_S": "0.1",
    "ORDER_OUTBOX_MAX_BACKOFF_S": "0.5",
    "ORDER_RECONCILE_PENDING_AFTER_S": "2",
    "ORDER_RECONCILE_INTERVAL_S": "0.5",
}


@dataclass
class ServiceProcess:
    """``<service>.server.serve()`` in a child process, on a fixed port so it can be restarted in place."""

    service: str  # "product" or "order"
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.service} is running"
        with self.log_path.open("ab") as log:
            log.write(f"----- start #{self.starts + 1} -----\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-c", f"from {self.service}.server import serve; serve()"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        self.wait_serving()

    def wait_serving(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while health_status(self.target, service=READINESS[self.service]) != SERVING:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.service} exited ({self.process.returncode}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.service} not SERVING after {timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no graceful stop, no cleanup; what is committed is all that survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def restart(self) -> None:
        self.kill()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


@dataclass
class Services:
    product: ServiceProcess
    order: ServiceProcess
    product_db: str
    order_db: str
    _channels: list[grpc.Channel] = field(default_factory=list)

    def _channel(self, target: str) -> grpc.Channel:
        channel = grpc.insecure_channel(target)
        self._channels.append(channel)
        return channel

    def product_stub(self) -> product_pb2_grpc.ProductServiceStub:
        return product_pb2_grpc.ProductServiceStub(self._channel(self.product.target))

    def order_stub(self) -> order_pb2_grpc.OrderServiceStub:
        return order_pb2_grpc.OrderServiceStub(self._channel(self.order.target))

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        for process in (self.order, self.product):
            process.kill()


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODUCT_", "ORDER_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC_DIR), env.get("PYTHONPATH", "")) if p)
    env["ESHOP_LOG_LEVEL"] = "INFO"
    env["PRODUCT_METRICS_ADDRESS"] = env["ORDER_METRICS_ADDRESS"] = ""  # no clash on the default ports
    return env


@contextmanager
def running_services(
    make_database_url: Callable[[str], str], log_dir: Path, base: Mapping[str, str]
) -> Iterator[Services]:
    """Product and Order services as processes on fresh databases and free ports, each started with
    ``base`` as its environment plus its own address and database; always killed on the way out."""
    product_db, order_db = make_database_url("product"), make_database_url("order")
    product_port, order_port = free_port(), free_port()
    product_env = {
        **base,
        "PRODUCT_LISTEN_ADDRESS": f"127.0.0.1:{product_port}",
        "PRODUCT_DATABASE_URL": product_db,
    }
    order_env = {
        **base,
        **ORDER_TEST_ENV,
        "ORDER_LISTEN_ADDRESS": f"127.0.0.1:{order_port}",
        "ORDER_DATABASE_URL": order_db,
        "ORDER_PRODUCT_SERVICE_TARGET": f"127.0.0.1:{product_port}",
    }
    running = Services(
        ServiceProcess("product", product_env, product_port, log_dir / "product.log"),
        ServiceProcess("order", order_env, order_port, log_dir / "order.log"),
        product_db,
        order_db,
    )
    try:
        running.product.start()
        running.order.start()
        yield running
    finally:
        running.close()


@dataclass
class InProcess:
    product: RunningServer
    order: RunningServer
    product_db: str
    order_db: str
    product_container: ProductContainer
    order_container: OrderContainer

    @property
    def product_target(self) -> str:
        return f"127.0.0.1:{self.product.port}"

    @property
    def order_target(self) -> str:
        return f"127.0.0.1:{self.order.port}"
