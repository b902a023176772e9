"""A PostgreSQL setting that cannot work, at `eshop product serve` / `eshop order serve`: one line on stderr
naming the variable (its password masked), no traceback, and a non-zero exit within 10 s. A server
that answered and refused (no such database, role or password) is the setting's fault: exit 2. One that
did not answer (nothing listening, a host that never replies) may be down or not up yet: it is tried
for a few seconds, then exit 1."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.support.backend import backend
from tests.support.cli import cli_env, eshop_command, run_eshop
from tests.support.faults import SERVING, health_status
from tests.support.helpers import wait_until
from tests.support.ports import free_port
from tests.support.postgres_cluster import PostgresServer, ThrowawayCluster
from tests.support.tcp_proxy import TcpProxy

EPHEMERAL = {"PRODUCT_LISTEN_ADDRESS": "127.0.0.1:0", "ORDER_LISTEN_ADDRESS": "127.0.0.1:0"}
WITHIN_S = 10  # the promise: the process has said why and exited within this


def serve(service: str, url: str) -> tuple[int, list[str], str]:
    """Exit status, stderr lines, and stderr as a whole, of `eshop <service> serve` on ``url``; a
    process still running after WITHIN_S fails the test (subprocess.TimeoutExpired)."""
    variable = f"{service.upper()}_DATABASE_URL"
    result = run_eshop(service, "serve", env=cli_env(**EPHEMERAL, **{variable: url}), timeout_s=WITHIN_S)
    return result.returncode, result.stderr.strip().splitlines(), result.stderr


@pytest.fixture
def server(on_postgres: None, request: pytest.FixtureRequest) -> PostgresServer:
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    return postgres


@pytest.fixture
def on_postgres() -> None:
    """The cases that need no server run with the others, on PostgreSQL's run (py311-pg) only."""
    if backend() != "postgres":
        pytest.skip("PostgreSQL's start-up (ESHOP_TEST_BACKEND=postgres)")


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that takes TCP connections and never says a word: a host that does not answer."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("service", ["product", "order"])
def test_a_missing_database_is_one_line_and_exit_2(service: str, server: PostgresServer) -> None:
    url = server.admin_url.set(database="no_such_db").render_as_string(hide_password=False)

    code, lines, stderr = serve(service, url)

    assert code == 2
    assert lines == [
        f"{service.upper()}_DATABASE_URL={url!r}: the database server refused the connection: "
        'database "no_such_db" does not exist'
    ]
    assert "Traceback" not in stderr


def test_an_unknown_role_is_one_line_and_exit_2(server: PostgresServer) -> None:
    url = server.admin_url.set(username="nobody_here", database="postgres").render_as_string(
        hide_password=False
    )

    code, lines, _ = serve("order", url)

    assert code == 2
    assert lines == [
        f"ORDER_DATABASE_URL={url!r}: the database server refused the connection: "
        'role "nobody_here" does not exist'
    ]


def test_a_wrong_password_is_one_line_without_the_password_and_exit_2(server: PostgresServer) -> None:
    if not isinstance(server, ThrowawayCluster):
        pytest.skip("needs a role with a password: only on the throwaway cluster")
    role = f"pw_{uuid.uuid4().hex[:8]}"
    right = server.role_with_password(role, "the-right-one")
    wrong = make_url(right).set(password="s3cret-but-wrong").render_as_string(hide_password=False)

    code, lines, stderr = serve("product", wrong)

    assert code == 2
    shown = make_url(wrong).render_as_string(hide_password=True)
    assert lines == [
        f"PRODUCT_DATABASE_URL={shown!r}: the database server refused the connection: "
        f'password authentication failed for user "{role}"'
    ]
    assert "s3cret-but-wrong" not in stderr


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.parametrize("service", ["product", "order"])
def test_nothing_listening_is_one_line_and_exit_1_after_a_short_wait(service: str) -> None:
    port = free_port()
    url = f"postgresql+psycopg://eshop:pw@127.0.0.1:{port}/eshop"
    started = time.monotonic()

    code, lines, stderr = serve(service, url)

    assert code == 1
    assert lines == [
        f"{service.upper()}_DATABASE_URL='postgresql+psycopg://eshop:***@127.0.0.1:{port}/eshop': "
        "no database server answered within 5 s: Connection refused"
    ]
    assert "Traceback" not in stderr
    assert time.monotonic() - started >= 5  # tried again for a while: the server may be starting


@pytest.mark.usefixtures("on_postgres")
def test_a_host_that_never_answers_is_given_up_on_in_time(silent_listener: int) -> None:
    url = f"postgresql+psycopg://eshop:pw@127.0.0.1:{silent_listener}/eshop"

    code, lines, stderr = serve("order", url)

    assert code == 1
    assert lines == [
        f"ORDER_DATABASE_URL='postgresql+psycopg://eshop:***@127.0.0.1:{silent_listener}/eshop': "
        "no database server answered within 5 s: connection timeout expired"
    ]
    assert "Traceback" not in stderr


@pytest.mark.usefixtures("on_postgres")
def test_a_host_name_that_does_not_resolve_is_one_line_and_exit_1_without_waiting() -> None:
    url = "postgresql+psycopg://eshop:pw@db.invalid/eshop"  # .invalid never resolves (RFC 2606)

    code, lines, stderr = serve("product", url)

    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(
        "PRODUCT_DATABASE_URL='postgresql+psycopg://eshop:***@db.invalid/eshop': unknown database host: "
    )
    assert "db.invalid" in lines[0].split("unknown database host: ", 1)[1]
    assert "Traceback" not in stderr


def test_a_database_that_comes_up_during_the_wait_is_served(server: PostgresServer) -> None:
    """What the wait is for: a server started together with the service answers a moment later."""
    target = make_url(server.create_database("late"))
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.cut()  # nothing answers yet
    address = f"127.0.0.1:{free_port()}"
    url = target.set(port=proxy.port).render_as_string(hide_password=False)
    process = subprocess.Popen(
        eshop_command("product", "serve"),
        env=cli_env(PRODUCT_LISTEN_ADDRESS=address, PRODUCT_DATABASE_URL=url),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: proxy.refused >= 1, WITHIN_S, "the service to try the database")
        proxy.restore()
        wait_until(lambda: health_status(address) == SERVING, 30, "the service to serve")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        proxy.close()
    assert process.returncode == 0, stderr


def test_a_read_only_database_to_migrate_is_one_line_and_exit_1(server: PostgresServer) -> None:
    """A service started against a standby (here: a database read-only by default): it may take
    writes later (a failover), so the setting is not wrong, but there is nothing to serve with now."""
    url = server.create_database("standby")
    name = str(make_url(url).database)
    admin = server.admin_url.set(database="postgres")
    with psycopg.connect(
        admin.render_as_string(hide_password=False).replace("+psycopg", ""), autocommit=True
    ) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(sql.Identifier(name))
        )

    code, lines, stderr = serve("product", url)

    assert code == 1
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"PRODUCT_DATABASE_URL={url!r}: cannot migrate it now: ")
    assert "read-only transaction" in lines[0]
