"""Podman for the deploy tests: a private store per session, and the local base images a machine with no
image registry needs. Standard library only: `.ci/run` asks it, before tox, whether podman can run here
(``python3 -m tests.deploy.podman probe``).

What this machine needs, and where each is dealt with:
- no registry: the Dockerfile's base (a Python 3.11 image on Debian bookworm) is a debootstrapped
  bookworm with Debian's python3 (deploy/test/local-base, kept in a cache between runs), imported and
  tagged with the names the Dockerfiles use; PostgreSQL is a stand-in (deploy/test/postgres);
- a TLS-intercepting proxy between pip and PyPI: the machine's CA certificates, in a layer on the base;
- crun refuses the machine's cgroup layout: runc; podman's default rlimits exceed the hard limits here:
  none set (the containers inherit podman's own) -- both in the private containers.conf;
- HEALTHCHECK survives only in Docker's image format: BUILDAH_FORMAT=docker.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
COMPOSE_FILE = REPO / "deploy" / "docker-compose.yml"
LOCAL_BASE = REPO / "deploy" / "test" / "local-base"
POSTGRES_STAND_IN = REPO / "deploy" / "test" / "postgres"
# Kept between runs: the base image, the PostgreSQL stand-in, checkov's virtualenv.
CACHE = Path(
    os.environ.get("ESHOP_TEST_CACHE")
    or ("/var/cache/eshop-ci" if os.geteuid() == 0 else Path.home() / ".cache" / "eshop-ci")
)
DEBIAN_IMAGE = "docker.io/library/debian:bookworm-slim"
POSTGRES_IMAGE = "docker.io/library/postgres:15"
CA_DIR = Path("/usr/local/share/ca-certificates")

CONTAINERS_CONF = """\
[containers]
# podman's default rlimits (nofile, nproc 1048576) exceed the hard limits of some hosts and runc then
# fails to start any container; with none set, a container inherits podman's own.
default_ulimits = []

[engine]
# crun refuses a host whose cgroup v1 controllers sit beside a v2 mount; runc runs there.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "cni"
"""


class PodmanUnavailableError(RuntimeError):
    """Podman cannot build or run containers on this machine; the message says why."""


class BaseImageError(RuntimeError):
    """The local base image could not be made (e.g. Debian's mirror did not answer): an error, not a
    reason to skip."""


def python_image() -> str:
    """The base the Dockerfile builds from by default (its ``ARG PYTHON_IMAGE``)."""
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    if match is None:
        raise AssertionError(f"{DOCKERFILE} has no ARG PYTHON_IMAGE=...")
    return match.group(1)


@dataclass
class Podman:
    """``podman`` on a private store under ``root``: its own images, containers and volumes, removed
    with it. Networks are the machine's (CNI's configuration is global): name them uniquely."""

    root: Path

    @classmethod
    def private(cls, root: Path) -> Podman:
        root.mkdir(parents=True, exist_ok=True)
        (root / "containers.conf").write_text(CONTAINERS_CONF)
        (root / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{root / "graph"}"\nrunroot = "{root / "run"}"\n'
        )
        return cls(root)

    @property
    def env(self) -> dict[str, str]:
        """The environment of every podman (and podman-compose) command of this store."""
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.root / "storage.conf"),
            "BUILDAH_FORMAT": "docker",
        }

    def run(
        self, *args: str, check: bool = True, timeout_s: float = 120, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.command(["podman", *args], check=check, timeout_s=timeout_s, cwd=cwd)

    def command(
        self, argv: Sequence[str], check: bool = True, timeout_s: float = 120, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` (podman, podman-compose) against this store; on failure, raise with its output."""
        result = subprocess.run(
            list(argv), env=self.env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    def inspect(self, kind: str, name: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self.run(kind, "inspect", name).stdout)
        return found[0]

    def image_size(self, name: str) -> int:
        size: int = json.loads(self.run("image", "inspect", name).stdout)[0]["Size"]
        return size

    def host_port(self, container: str, port: int) -> str:
        """``127.0.0.1:PORT``: where the host reaches ``port`` published by ``container``."""
        return self.run("port", container, str(port)).stdout.split()[0]

    def remove(self) -> None:
        """Every container, volume and image of the store, then the store itself."""
        with contextlib.suppress(Exception):
            self.run("rm", "--all", "--force", "--time", "2", check=False)
            self.run("volume", "rm", "--all", "--force", check=False)
            self.run("rmi", "--all", "--force", check=False)
        # containers/storage bind-mounts its overlay directory onto itself.
        overlay = self.root / "graph" / "overlay"
        subprocess.run(["umount", "--lazy", str(overlay)], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def base_tarball() -> Path:
    """The debootstrapped base, made once and kept in CACHE (deploy/test/local-base)."""
    result = subprocess.run(
        [str(LOCAL_BASE), str(CACHE)], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise BaseImageError(f"deploy/test/local-base failed: {result.stderr.strip()[-2000:]}")
    if result.stderr.strip():
        print(result.stderr.strip(), file=sys.stderr)
    return Path(result.stdout.strip())


def prepare(podman: Podman) -> None:
    """Tag the local base images in ``podman``'s store with the names the Dockerfiles start from:
    Debian for the PostgreSQL stand-in, and Debian with the machine's CA certificates (pip's proxy) for
    deploy/Dockerfile's Python base."""
    # As Debian's and Python's official images: a UTF-8 locale.
    podman.run("import", "--change", "ENV LANG=C.UTF-8", str(base_tarball()), DEBIAN_IMAGE, timeout_s=300)
    certificates = sorted(CA_DIR.glob("*.crt"))
    with tempfile.TemporaryDirectory() as context:
        lines = [f"FROM {DEBIAN_IMAGE}"]
        if certificates:
            for certificate in certificates:
                shutil.copy(certificate, context)
            lines += [
                "COPY *.crt /usr/local/share/ca-certificates/",
                "RUN update-ca-certificates >/dev/null 2>&1",
                # pip reads its own bundle unless told otherwise.
                "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
            ]
        Path(context, "Containerfile").write_text("\n".join(lines) + "\n")
        podman.run("build", "--quiet", "--tag", python_image(), context, timeout_s=300)


def postgres_stand_in(podman: Podman) -> None:
    """docker.io/library/postgres:15 in ``podman``'s store: deploy/test/postgres built on the local
    Debian base (apt, half a minute), kept in CACHE as an archive named after its sources."""
    digest = hashlib.sha256()
    for path in sorted(POSTGRES_STAND_IN.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(base_tarball().name.encode())
    archive = CACHE / f"postgres-stand-in-{digest.hexdigest()[:12]}.tar"
    if archive.is_file():
        podman.run("load", "--quiet", "--input", str(archive), timeout_s=300)
        return
    podman.run("build", "--quiet", "--tag", POSTGRES_IMAGE, str(POSTGRES_STAND_IN), timeout_s=900)
    partial = archive.with_suffix(f".{os.getpid()}.partial")
    podman.run("save", "--quiet", "--output", str(partial), POSTGRES_IMAGE, timeout_s=300)
    partial.rename(archive)
    for stale in CACHE.glob("postgres-stand-in-*.tar"):
        if stale != archive:
            stale.unlink()


def probe() -> str:
    """One line saying podman can run containers here (with what), or raise saying why not."""
    if os.geteuid() != 0:
        raise PodmanUnavailableError("not root (the deploy tests run podman rootful)")
    missing = [tool for tool in ("podman", "runc", "debootstrap", "podman-compose") if not shutil.which(tool)]
    if missing:
        raise PodmanUnavailableError(f"not installed: {', '.join(missing)}")
    root = Path(tempfile.mkdtemp(prefix="eshop-podman-probe-"))
    podman = Podman.private(root)
    try:
        podman.run("import", str(base_tarball()), DEBIAN_IMAGE, timeout_s=300)
        ran = podman.run("run", "--rm", DEBIAN_IMAGE, "true", check=False)
        if ran.returncode != 0:
            raise PodmanUnavailableError(f"podman run failed: {ran.stderr.strip()[-500:]}")
        version = podman.run("version", "--format", "{{.Client.Version}}").stdout.strip()
        return f"podman {version} runs containers here (runc, base image in {CACHE})"
    finally:
        podman.remove()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.5) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


@contextlib.contextmanager
def timed(record: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        record[name] = time.monotonic() - started


def main(argv: Sequence[str]) -> int:
    """``probe``: exit 0 (podman runs containers here), 1 (it cannot: the line says why) or 3 (the
    local base image could not be made)."""
    if list(argv) != ["probe"]:
        print("usage: python3 -m tests.deploy.podman probe", file=sys.stderr)
        return 2
    try:
        print(probe())
    except BaseImageError as error:
        print(error)
        return 3
    except (PodmanUnavailableError, AssertionError, subprocess.TimeoutExpired) as error:
        print(f"podman cannot run containers here: {error}".splitlines()[0])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
