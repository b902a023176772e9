"""The deploy tests (`tox -e deploy`; `pytest` alone leaves tests/deploy out, see pyproject's addopts).

The container tests need podman, rootful. ESHOP_TEST_PODMAN says what to do where it cannot run:
unset, skip them saying why; ``required`` (what `.ci/run` sets once podman has run a container here),
fail; ``skip`` (what it sets otherwise), skip them without trying. The images are built once per
session, on a private store, from the working tree (the build context being what .dockerignore lets
in), and every container, volume and image goes with the store.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.podman import (
    DOCKERFILE,
    REPO,
    Podman,
    PodmanUnavailableError,
    postgres_stand_in,
    prepare,
    probe,
    timed,
)
from tests.deploy.report import REPORT

IMAGES = {"product": "localhost/eshop-product:latest", "order": "localhost/eshop-order:latest"}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not (REPORT.seconds or REPORT.sizes or REPORT.lines):
        return
    terminalreporter.section("deploy")
    for line in REPORT.lines:
        terminalreporter.write_line(line)
    for name, size in REPORT.sizes.items():
        terminalreporter.write_line(f"image {name}: {size / 1e6:.0f} MB")
    for name, seconds in REPORT.seconds.items():
        terminalreporter.write_line(f"{name}: {seconds:.0f} s")


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    """A private podman store with the local base images in it, or a skip saying why there is none."""
    wanted = os.environ.get("ESHOP_TEST_PODMAN", "").strip().lower()
    if wanted == "skip":
        pytest.skip("ESHOP_TEST_PODMAN=skip (.ci/run found that podman cannot run containers here)")
    if wanted != "required":  # .ci/run has just probed when it says required
        try:
            with timed(REPORT.seconds, "podman probe"):
                REPORT.lines.append(probe())
        except PodmanUnavailableError as error:
            pytest.skip(f"podman cannot run containers here: {error}")
    store = Podman.private(Path(tmp_path_factory.mktemp("podman")))
    try:
        with timed(REPORT.seconds, "local base images (the debootstrapped one made or taken from the cache)"):
            prepare(store)
        version = store.run("version", "--format", "{{.Client.Version}}").stdout.strip()
        REPORT.lines.append(f"podman {version}, a store of this session's own in {store.root}")
        yield store
    finally:
        store.remove()


@pytest.fixture(scope="session")
def images(podman: Podman) -> dict[str, str]:
    """Both images, built as docs/deployment.md says (a target each), with their sizes reported."""
    for service, tag in IMAGES.items():
        with timed(REPORT.seconds, f"build of the {service} image"):
            built = podman.run(
                "build",
                "--format",
                "docker",
                "--file",
                str(DOCKERFILE.relative_to(REPO)),
                "--target",
                service,
                "--tag",
                tag,
                ".",
                cwd=REPO,
                timeout_s=900,
            )
        REPORT.build_logs[service] = built.stdout + built.stderr
        REPORT.sizes[tag] = podman.image_size(tag)
    return IMAGES


@pytest.fixture(scope="session")
def postgres_image(podman: Podman) -> None:
    with timed(REPORT.seconds, "PostgreSQL stand-in image (built or taken from the cache)"):
        postgres_stand_in(podman)


@pytest.fixture
def network(podman: Podman) -> Iterator[str]:
    """A network of this test's own (with DNS: containers find each other by --network-alias)."""
    name = f"eshop-test-{uuid.uuid4().hex[:10]}"
    podman.run("network", "create", name)
    try:
        yield name
    finally:
        podman.run("network", "rm", "--force", name, check=False)
