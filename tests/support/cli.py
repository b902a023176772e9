"""The ``eshop`` command run as a subprocess, as a person or a script would run it: its environment and
command line, a product made with it, and ``eshop up`` until both services serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
from eshop_cli import health

ENTRY = "from eshop_cli.main import main; main()"
# Variables of the environment the tests run in that would change what the CLI or `eshop up` does.
_SCRUBBED = (
    "PRODUCT_LISTEN_ADDRESS",
    "PRODUCT_DATABASE_URL",
    "ORDER_LISTEN_ADDRESS",
    "ORDER_DATABASE_URL",
    "ORDER_PRODUCT_SERVICE_TARGET",
    "ESHOP_LOG_JSON",
    "ESHOP_TOKEN",
    "PRODUCT_AUTH_MODE",
    "ORDER_AUTH_MODE",
    "ORDER_PRODUCT_TOKEN_FILE",
)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: it imports the same `common` this test process imported
    (an installed wheel under tox, or src/ with PYTHONPATH=src)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    package_root = str(Path(common.__file__ or ".").resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def eshop_command(*args: str) -> list[str]:
    return [sys.executable, "-c", ENTRY, *args]


def run_eshop(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        eshop_command(*args),
        env=env or cli_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@dataclass(frozen=True)
class Services:
    product_address: str
    order_address: str


Eshop = Callable[..., subprocess.CompletedProcess[str]]


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def create(
    eshop: Eshop, name: str = "Kettle", price: str = "19.99", stock: int = 5, *extra: str
) -> dict[str, Any]:
    result = eshop(
        "products", "create", "--name", name, "--price", price, "--stock", str(stock), *extra, "--json"
    )
    assert result.returncode == 0, result.stderr
    product: dict[str, Any] = json.loads(result.stdout)
    return product


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
