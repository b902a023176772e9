"""deploy/docker-compose.yml run with podman-compose: PostgreSQL, the migration, 2 + 2 replicas.

podman-compose 1.0.3 (Debian bookworm's) creates what the file says but starts everything at once: it
ignores depends_on's conditions. So the test creates the containers with `up --no-start` and starts them
itself in the file's dependency order, waiting for each condition the file names (healthy: its
healthcheck passes; completed successfully: it exited 0), as Docker's compose does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.deploy.podman import COMPOSE_FILE, POSTGRES_IMAGE, REPO, Podman, timed, wait_for
from tests.deploy.report import REPORT
from tests.deploy.test_images import eshop, eshop_json

EVENTS_COMPOSE_FILE = COMPOSE_FILE.with_name("docker-compose.events.yml")


def compose_file() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return parsed


def healthcheck_command(service: dict[str, Any]) -> list[str]:
    """The argv of a service's healthcheck, in any of compose's three forms."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *rest = test
    return ["sh", "-c", rest[0]] if kind == "CMD-SHELL" else rest


def start_order(services: dict[str, Any]) -> list[str]:
    """The services, each after those it depends on."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        for dependency in services[name].get("depends_on", {}):
            visit(dependency)
        if name not in ordered:
            ordered.append(name)

    for name in services:
        visit(name)
    return ordered


@pytest.fixture
def project(podman: Podman, images: dict[str, str], postgres_image: None) -> Iterator[str]:
    """A compose project of this test's own, taken down (volumes too) at the end."""
    name = f"eshop{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        compose(podman, name, "down", "--volumes", check=False)
        podman.run("network", "rm", "--force", f"{name}_default", check=False)


def compose(podman: Podman, project: str, *args: str, check: bool = True) -> None:
    podman.command(
        ["podman-compose", "--project-name", project, "--file", str(COMPOSE_FILE), *args],
        check=check,
        timeout_s=900,
        cwd=REPO,
    )


def healthy(podman: Podman, container: str, command: list[str]) -> bool:
    return podman.run("exec", container, *command, check=False).returncode == 0


def passes_healthcheck(podman: Podman, container: str) -> bool:
    return podman.run("healthcheck", "run", container, check=False).returncode == 0


def test_the_postgres_healthcheck_waits_for_the_server_to_listen_on_tcp(
    podman: Podman, postgres_image: None, network: str, tmp_path: Path
) -> None:
    """While the image initialises a new volume its server answers on the Unix socket only: a
    healthcheck asking there would report ready, and `migrate` would then be refused over TCP."""
    services = compose_file()["services"]
    check = healthcheck_command(services["postgres"])
    slow_init = tmp_path / "slow.sql"
    slow_init.write_text("SELECT pg_sleep(4);\n")
    container = f"{network}-postgres"
    podman.run(
        "run", "--detach", "--name", container, "--network", network,
        "--env", f"POSTGRES_PASSWORD={services['postgres']['environment']['POSTGRES_PASSWORD']}",
        "--volume", f"{slow_init}:/docker-entrypoint-initdb.d/slow.sql:ro", POSTGRES_IMAGE,
    )  # fmt: skip
    socket_only = ["pg_isready", "-U", "postgres"]
    seen_socket_only = False

    def ready() -> bool:
        nonlocal seen_socket_only
        if healthy(podman, container, check):
            return True
        seen_socket_only = seen_socket_only or healthy(podman, container, socket_only)
        return False

    wait_for(ready, 60, "the PostgreSQL healthcheck to pass", poll_s=0.2)
    logs = podman.run("logs", container)
    assert "PostgreSQL init process complete" in logs.stdout + logs.stderr, (
        "the healthcheck passed while the server was still initialising (on its Unix socket only)"
    )
    assert seen_socket_only, "the socket-only phase of the initialisation was never seen: nothing was tested"


def test_two_replicas_of_each_service_on_postgresql(
    podman: Podman, images: dict[str, str], project: str
) -> None:
    """`up`, starting in dependency order; then health over each replica's published port, and an order
    through each Order replica, all on the one database."""
    services = compose_file()["services"]
    replicas = {name: int(spec.get("deploy", {}).get("replicas", 1)) for name, spec in services.items()}
    assert replicas["product"] == replicas["order"] == 2

    # compose's build sections make the images the documented build made (every layer from the cache).
    built = {name: podman.inspect("image", image)["Id"] for name, image in images.items()}
    with timed(REPORT.seconds, "compose build (cached)"):
        compose(podman, project, "build")
    assert built == {name: podman.inspect("image", services[name]["image"])["Id"] for name in built}

    with timed(REPORT.seconds, "compose: 2 + 2 replicas up and healthy"):
        compose(podman, project, "up", "--no-start")
        for name in start_order(services):
            for dependency, condition in services[name].get("depends_on", {}).items():
                wait_for_condition(podman, project, services, dependency, condition["condition"])
            for number in range(1, replicas[name] + 1):
                podman.run("start", f"{project}_{name}_{number}")
        for name in ("product", "order"):
            wait_for_condition(podman, project, services, name, "service_healthy")

    def address(name: str, number: int, port: int) -> str:
        return podman.host_port(f"{project}_{name}_{number}", port)

    product_ports = [address("product", n, 50051) for n in (1, 2)]
    order_ports = [address("order", n, 50052) for n in (1, 2)]
    for product_port in product_ports:
        assert eshop("--product-address", product_port, "health", "--service", "product").returncode == 0
    for order_port in order_ports:
        assert eshop("--order-address", order_port, "health", "--service", "order").returncode == 0

    created = eshop_json(
        "--product-address", product_ports[0], "products", "create", "--name", "Beans", "--price", "4.20",
        "--stock", "10",
    )  # fmt: skip
    orders = [
        eshop_json("--order-address", port, "orders", "create", "--item", f"{created['product_id']}:3")
        for port in order_ports
    ]
    assert [order["status"] for order in orders] == ["ORDER_STATUS_CONFIRMED"] * 2, orders
    # One database behind the replicas: each sees what the others did.
    for product_port in product_ports:
        stock = eshop_json("--product-address", product_port, "products", "get", str(created["product_id"]))
        assert stock["stock_quantity"] == 4
    for order, other_port in zip(orders, reversed(order_ports), strict=True):
        assert eshop_json("--order-address", other_port, "orders", "get", str(order["order_id"])) == order

    # Prometheus reaches each replica's metrics at its address on the compose network.
    for name, port in (("product", 9464), ("order", 9465)):
        for number in (1, 2):
            scrape = (
                "import socket, urllib.request; "
                f"print(urllib.request.urlopen(f'http://{{socket.gethostname()}}:{port}/metrics').status)"
            )
            answer = podman.run("exec", f"{project}_{name}_{number}", "python", "-c", scrape)
            assert answer.stdout.strip() == "200"


def wait_for_condition(
    podman: Podman, project: str, services: dict[str, Any], name: str, condition: str
) -> None:
    replicas = int(services[name].get("deploy", {}).get("replicas", 1))
    for container in (f"{project}_{name}_{n}" for n in range(1, replicas + 1)):
        if condition == "service_healthy":
            # The healthcheck podman-compose gave the container, from the file's.
            try:
                wait_for(partial(passes_healthcheck, podman, container), 120, f"{container} healthy")
            except AssertionError as error:
                logs = podman.run("logs", container, check=False).stderr[-3000:]
                raise AssertionError(f"{error}\n{logs}") from None
        elif condition == "service_completed_successfully":
            status = podman.run("wait", container, timeout_s=300).stdout.strip()
            logs = podman.run("logs", container, check=False)
            assert status == "0", f"{container} exited {status}\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}"
        else:
            assert condition == "service_started", condition


def test_the_compose_file_publishes_on_loopback_only() -> None:
    """A published port on every address would put a service with authentication off (the default) on
    the network; each replica gets its own loopback port instead."""
    for name, spec in compose_file()["services"].items():
        for port in spec.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_the_events_override_adds_a_broker_every_replica_publishes_to() -> None:
    """deploy/docker-compose.events.yml (docs/deployment.md): a RabbitMQ whose user is the one both
    services' URLs name, on the compose network, published on loopback only, and URLs the services take.
    Not run: no registry serves RabbitMQ's image to the test machines."""
    override: dict[str, Any] = yaml.safe_load(EVENTS_COMPOSE_FILE.read_text())
    broker = override["services"]["rabbitmq"]
    user, password = (broker["environment"][f"RABBITMQ_DEFAULT_{k}"] for k in ("USER", "PASS"))
    expected = f"amqp://{user}:{password}@rabbitmq:5672/"
    assert all(str(port).startswith("127.0.0.1:") for port in broker["ports"])
    urls = {
        name: override["services"][name]["environment"][f"{name.upper()}_EVENTS_BROKER_URL"]
        for name in ("product", "order")
    }
    assert urls == {"product": expected, "order": expected}
    assert ProductSettings(events_broker_url=urls["product"]).events_broker_url == expected
    assert OrderSettings(events_broker_url=urls["order"]).events_broker_url == expected
    # It adds to the base file's services and changes nothing else of theirs.
    assert set(override["services"]) - {"rabbitmq"} <= set(compose_file()["services"])
    assert all(
        set(spec) == {"environment"} for name, spec in override["services"].items() if name != "rabbitmq"
    )
