"""`eshop product serve` on a port that is taken: one clear line and exit 1, not a traceback."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable

from tests.integration.cli.conftest import cli_env, eshop_command


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
