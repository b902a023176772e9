"""docs/deployment.md, "Replicas without containers": its commands run as written, with free ports and
fresh databases in place of the page's, start two Product replicas and an Order service that use both.
(A second replica left on the default metrics address exited at once, unnoticed behind `&`.)"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.podman import REPO, wait_for
from tests.deploy.test_images import eshop, eshop_json
from tests.support.ports import free_port

HEADING = "## Replicas without containers"


def example(docs: str) -> str:
    """The first sh block after the heading."""
    section = docs.split(HEADING, 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_replicas_example_runs_as_written(
    make_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    script = example((REPO / "docs" / "deployment.md").read_text())
    # No server to createdb on: fresh databases of the test's backend instead of the page's URLs.
    script = "\n".join(line for line in script.splitlines() if not line.startswith("createdb "))
    script = re.sub(
        r"postgresql\+psycopg://\S+/(product|order)\b", lambda m: make_database_url(m.group(1)), script
    )
    ports: dict[str, int] = {}
    script = re.sub(
        r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports.setdefault(m.group(1), free_port())}", script
    )
    addresses = {page: f"127.0.0.1:{port}" for page, port in ports.items()}
    assert set(addresses) == {"50051", "50061", "50052", "9464", "9474", "9465"}, "the example changed"

    eshop_bin = Path(sys.executable).parent
    if shutil.which("eshop", path=str(eshop_bin)) is None:
        pytest.skip("no eshop command beside this Python (install the package)")
    # A shell's environment: none of the test session's own service variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODUCT_", "ORDER_", "ESHOP_"))}
    env["PATH"] = f"{eshop_bin}{os.pathsep}{env.get('PATH', '')}"
    output = tmp_path / "output.txt"
    with output.open("w") as sink:
        shell = subprocess.Popen(
            ["bash", "-e", "-c", script],
            env=env,
            cwd=tmp_path,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        product_addresses = [addresses["50051"], addresses["50061"]]
        order = ("--order-address", addresses["50052"])

        def all_serving() -> bool:
            assert shell.poll() is None, f"the example's shell ended:\n{output.read_text()}"
            return (
                all(
                    eshop("--product-address", a, "health", "--service", "product").returncode == 0
                    for a in product_addresses
                )
                and eshop(*order, "health", "--service", "order").returncode == 0
            )

        try:
            wait_for(all_serving, 60, "both Product replicas and the Order service SERVING")
        except AssertionError as error:
            raise AssertionError(f"{error}; the example's output:\n{output.read_text()}") from None
        created = eshop_json(
            "--product-address", product_addresses[0], "products", "create", "--name", "Tea",
            "--price", "3.00", "--stock", "4",
        )  # fmt: skip
        for _ in range(2):
            placed = eshop_json(*order, "orders", "create", "--item", f"{created['product_id']}:1")
            assert placed["status"] == "ORDER_STATUS_CONFIRMED", placed
        for address in product_addresses:
            got = eshop_json("--product-address", address, "products", "get", str(created["product_id"]))
            assert got["stock_quantity"] == 2
        # Every process serves its own metrics endpoint.
        for page in ("9464", "9474", "9465"):
            with urllib.request.urlopen(f"http://{addresses[page]}/metrics", timeout=10) as answer:
                assert answer.status == 200, page
    finally:
        os.killpg(shell.pid, signal.SIGTERM)
        shell.wait(timeout=30)
