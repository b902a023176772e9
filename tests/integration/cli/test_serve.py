"""`eshop product serve` / `eshop order serve` as an operator runs them: one start-up line (address,
database, version), one shutdown line on SIGTERM, and one clear line, not a traceback, when the port is
taken."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.version import VERSION
from tests.support.cli import cli_env, eshop_command
from tests.support.ports import free_address


def test_serve_on_a_busy_port_says_so_and_exits_1(make_database_url: Callable[[str], str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = cli_env(PRODUCT_LISTEN_ADDRESS=address, PRODUCT_DATABASE_URL=make_database_url("product"))
        result = subprocess.run(
            eshop_command("product", "serve"),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on {address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_a_busy_metrics_port_names_the_variable_and_exits_1(
    make_database_url: Callable[[str], str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = cli_env(
            ORDER_LISTEN_ADDRESS=free_address(),
            ORDER_METRICS_ADDRESS=address,
            ORDER_DATABASE_URL=make_database_url("order"),
        )
        result = subprocess.run(
            eshop_command("order", "serve"), env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 1
    # Said apart from a gRPC port that cannot be bound ("cannot listen on ..."), with its variable.
    assert f"ORDER_METRICS_ADDRESS='{address}': cannot serve metrics there" in result.stderr
    assert "cannot listen on" not in result.stderr
    assert "Traceback" not in result.stderr


def _wait_until_serving(address: str, process: subprocess.Popen[str]) -> None:
    with grpc.insecure_channel(address) as channel:
        # wait_for_ready: the health call waits (up to its deadline) for the server to listen.
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=60, wait_for_ready=True
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING, process.args


@pytest.mark.parametrize("service", ["product", "order"])
def test_serve_logs_one_start_line_and_one_stop_line(
    service: str, make_database_url: Callable[[str], str]
) -> None:
    address = free_address()
    variables = {
        f"{service.upper()}_LISTEN_ADDRESS": address,
        f"{service.upper()}_DATABASE_URL": make_database_url(service),
        f"{service.upper()}_METRICS_ADDRESS": "127.0.0.1:0",
    }
    if service == "order":
        # Nothing to reserve or reconcile in a new database: the Product service is never called.
        variables["ORDER_PRODUCT_SERVICE_TARGET"] = free_address()
    process = subprocess.Popen(
        eshop_command(service, "serve"), env=cli_env(**variables), stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_until_serving(address, process)
        start_line = _read_start_line(process)
        # The metrics URL actually bound (port 0 asked the OS for one) answers while the service runs.
        [metrics_url] = re.findall(r"metrics (http://127\.0\.0\.1:\d+/metrics), events off\)", start_line)
        assert not metrics_url.endswith(":0/metrics")
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            assert b"process_start_time_seconds" in response.read()
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, rest
    stderr = start_line + rest
    starts = [line for line in stderr.splitlines() if f"{service} service {VERSION} listening on" in line]
    assert len(starts) == 1, stderr
    assert address in starts[0]
    assert "(database " in starts[0]
    assert sum(f"{service} service stopped" in line for line in stderr.splitlines()) == 1, stderr


def _read_start_line(process: subprocess.Popen[str]) -> str:
    """What the running process wrote to stderr up to and including its start-up line."""
    assert process.stderr is not None
    lines: list[str] = []
    while not lines or "listening on" not in lines[-1]:
        line = process.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
    return "".join(lines)
