"""With ESHOP_LOG_JSON=true a service's log is JSON lines only, also where aio-pika and aiormq (which log
with the standard library) say something about the broker connection."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.helpers import wait_until
from tests.support.ports import free_port
from tests.support.processes import base_env


def test_a_broker_that_refuses_connections_is_logged_in_json_lines_only(
    make_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    log_path = tmp_path / "product.log"
    env = {
        **base_env(),
        "ESHOP_LOG_JSON": "true",
        "ESHOP_LOG_LEVEL": "DEBUG",  # aiormq still says only its warnings
        "PRODUCT_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        "PRODUCT_DATABASE_URL": make_database_url("product"),
        # Nothing listens there: aiormq logs the refused connection, the service its own WARNING.
        "PRODUCT_EVENTS_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from product.server import serve; serve()"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        # aiormq logs the refusal before the service's WARNING about it.
        wait_until(lambda: "not reachable" in log_path.read_text(), 60, "the service's broker WARNING")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    lines = log_path.read_text().splitlines()
    not_json = [line for line in lines if not _is_json_object(line)]
    assert not not_json, "lines not in the JSON format:\n" + "\n".join(not_json)
    from_aiormq = [entry for entry in map(json.loads, lines) if entry.get("logger", "").startswith("aiormq")]
    assert from_aiormq, "aiormq said nothing about the refused connection"
    assert all(entry["service"] == "product" for entry in from_aiormq)
    assert all(entry["level"] in ("WARNING", "ERROR", "CRITICAL") for entry in from_aiormq)


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
