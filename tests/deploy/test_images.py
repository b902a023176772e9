"""The images deploy/Dockerfile builds, and each service run alone in its container, as
docs/deployment.md ("Build", "Run") says."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.deploy.podman import DEBIAN_IMAGE, REPO, Podman, python_image, wait_for
from tests.deploy.report import REPORT

ENTRY = "from eshop_cli.main import main; main()"
# The build context must not change with what a working tree holds besides its sources.
LEFTOVERS = (
    "src/eshop_grpc.egg-info/SOURCES.txt",
    "src/common/__pycache__/settings.cpython-311.pyc",
    "build/lib/common/settings.py",
    ".venv/bin/python",
    ".tox/py311/bin/python",
    ".git/HEAD",
    "tests/test_anything.py",
)
# What the runtime stage adds to its base besides /opt/eshop: the user's entries and its home.
USER_FILES = {
    "/data",
    "/opt",
    "/etc",
    *(
        f"/etc/{name}{suffix}"
        for name in ("passwd", "group", "shadow", "gshadow", "subuid", "subgid")
        for suffix in ("", "-")
    ),
}
SIZE_BUDGET_BYTES = 300_000_000


def eshop(*args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """The `eshop` command of this environment, as a person on the host runs it."""
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def eshop_json(*args: str) -> dict[str, object]:
    result = eshop("--json", *args)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def test_the_build_context_holds_only_what_the_build_reads(podman: Podman, tmp_path: Path) -> None:
    """.dockerignore keeps a working tree's leftovers (and everything the Dockerfile does not read) out
    of the context: a copy of the tree with leftovers planted in it goes into an image as its context."""
    tree = tmp_path / "tree"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    shutil.copy2(REPO / ".dockerignore", tree / ".dockerignore")
    for name in LEFTOVERS:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("left over\n")
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text(f"FROM {DEBIAN_IMAGE}\nCOPY . /context/\n")
    podman.run("build", "--quiet", "--file", str(containerfile), "--tag", "localhost/context:test", str(tree))
    listed = podman.run("run", "--rm", "localhost/context:test", "find", "/context", "-type", "f").stdout
    context = {line.removeprefix("/context/") for line in listed.split()}
    podman.run("rmi", "localhost/context:test")

    read_by_the_build = {"constraints.txt", "pyproject.toml", "README.md"}
    expected = {
        name for name in filter(None, tracked) if name in read_by_the_build or name.startswith("src/")
    }
    assert context == expected


def test_the_builds_warn_of_nothing(images: dict[str, str]) -> None:
    """A warning in a build log is a defect waiting (a system user's uid out of range was one)."""
    for service in images:
        warnings = [line for line in REPORT.build_logs[service].splitlines() if "warn" in line.lower()]
        assert not warnings, (service, warnings)


def test_the_images_add_only_the_virtualenv_and_an_unprivileged_user(
    podman: Podman, images: dict[str, str]
) -> None:
    base = python_image()
    base_layers = podman.inspect("image", base)["RootFS"]["Layers"]
    for service, image in images.items():
        inspected = podman.inspect("image", image)
        config = inspected["Config"]
        assert config["User"] == "10001:10001", service
        assert config["Volumes"] == {"/data": {}}, service
        assert config["WorkingDir"] == "/data", service
        # Kept only in Docker's format (podman: --format docker).
        assert inspected["Healthcheck"]["Test"] == [
            "CMD",
            "eshop",
            "--timeout",
            "3",
            "health",
            "--service",
            service,
        ]
        # Two layers on the base: the user, then the virtualenv; no sources, wheels or pip.
        layers = inspected["RootFS"]["Layers"]
        assert layers[: len(base_layers)] == base_layers, service
        assert len(layers) == len(base_layers) + 2, service
        changed = podman.run("image", "diff", image, base).stdout.splitlines()
        paths = {line.split(maxsplit=1)[1] for line in changed}
        outside_the_venv = {p for p in paths if not p.startswith("/opt/eshop/") and p != "/opt/eshop"}
        assert outside_the_venv <= USER_FILES, service
        assert not {p for p in paths if p.startswith("/opt/eshop/bin/pip")}, service
        size = podman.image_size(image)
        assert size < SIZE_BUDGET_BYTES, f"{image}: {size / 1e6:.0f} MB"
    # Both targets share every layer: the second image costs no space.
    product_layers, order_layers = (
        podman.inspect("image", image)["RootFS"]["Layers"] for image in images.values()
    )
    assert product_layers == order_layers
    REPORT.lines.append(
        f"base {base}: {podman.image_size(base) / 1e6:.0f} MB; the images share all their layers"
    )


def test_each_service_serves_from_its_image_with_a_read_only_root(
    podman: Podman, images: dict[str, str], network: str
) -> None:
    """Both containers up on a network, their gRPC ports published on loopback: health over the
    published ports, the images' HEALTHCHECK, an order through them, metrics, and nothing writable but
    /data."""
    product, order = f"{network}-product", f"{network}-order"
    run = ["run", "--detach", "--network", network, "--read-only", "--read-only-tmpfs=false"]
    # No systemd here to schedule the HEALTHCHECK; `podman healthcheck run` runs it below.
    run += ["--health-interval", "disable"]
    podman.run(
        *run, "--name", product, "--network-alias", "product", "--volume", f"{product}:/data",
        "--publish", "127.0.0.1::50051", "--publish", "127.0.0.1::9464", images["product"],
    )  # fmt: skip
    podman.run(
        *run, "--name", order, "--volume", f"{order}:/data", "--publish", "127.0.0.1::50052",
        "--env", "ORDER_PRODUCT_SERVICE_TARGET=dns:///product:50051", images["order"],
    )  # fmt: skip
    addresses = [
        "--product-address", podman.host_port(product, 50051),
        "--order-address", podman.host_port(order, 50052),
    ]  # fmt: skip

    def logs() -> str:
        return "\n".join(podman.run("logs", c, check=False).stderr[-2000:] for c in (product, order))

    try:
        wait_for(lambda: eshop(*addresses, "health").returncode == 0, 60, "both services SERVING")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{logs()}") from None
    for container in (product, order):
        assert podman.run("healthcheck", "run", container, check=False).returncode == 0, logs()

    created = eshop_json(*addresses, "products", "create", "--name", "Beans", "--price", "9.50", "--stock=5")
    placed = eshop_json(*addresses, "orders", "create", "--item", f"{created['product_id']}:2")
    assert placed["status"] == "ORDER_STATUS_CONFIRMED", placed
    assert placed["total_amount"] == "19.00"
    assert eshop_json(*addresses, "products", "get", str(created["product_id"]))["stock_quantity"] == 3

    with urllib.request.urlopen(f"http://{podman.host_port(product, 9464)}/metrics", timeout=10) as answer:
        assert "eshop_products_low_stock" in answer.read().decode()

    for container, database in ((product, "product.db"), (order, "order.db")):
        assert podman.run("exec", container, "id", "-u").stdout.strip() == "10001"
        for path in ("/opt/eshop/written", "/tmp/written", "/written"):
            refused = podman.run("exec", container, "touch", path, check=False)
            assert "Read-only file system" in refused.stderr, (container, path, refused.stderr)
        podman.run("exec", container, "test", "-s", f"/data/.eshop/{database}")


@pytest.mark.parametrize("service", ["product", "order"])
def test_a_bad_variable_stops_the_container_with_one_line_naming_it(
    podman: Podman, images: dict[str, str], service: str
) -> None:
    variable = f"{service.upper()}_MAX_WORKERS"
    ran = podman.run("run", "--rm", "--env", f"{variable}=lots", images[service], check=False)
    assert ran.returncode == 2
    assert variable in ran.stderr
    assert "Traceback" not in ran.stderr
