"""Invalid configuration: exit status 2 and one line per problem naming the variable, its value and
what is allowed; no traceback unless ESHOP_LOG_LEVEL=DEBUG. From `eshop <service> serve` and `eshop up`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import cli_env, run_eshop

EPHEMERAL = {"PRODUCT_LISTEN_ADDRESS": "127.0.0.1:0", "ORDER_LISTEN_ADDRESS": "127.0.0.1:0"}
TIMEOUT_S = 30  # a process that starts serving instead of refusing fails the test at this timeout


def serve(service: str, **variables: str) -> tuple[int, list[str]]:
    result = run_eshop(service, "serve", env=cli_env(**EPHEMERAL, **variables), timeout_s=TIMEOUT_S)
    return result.returncode, result.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("service", "name", "value", "rule"),
    [
        ("order", "ORDER_PRODUCT_RETRY_MAX_ATTEMPTS", "abc", "must be an integer from 2 to 5"),
        ("order", "ORDER_DATABASE_URL", "not a database url", "must be a database URL"),
        ("product", "PRODUCT_MAX_WORKERS", "0", "must be an integer from 1 to 256"),
        ("product", "ESHOP_LOG_LEVEL", "loud", "must be one of TRACE, DEBUG, INFO"),
        ("order", "ORDER_AUTH_MODE", "on", "must be one of off, required"),
        ("order", "ORDER_METRICS_ADDRESS", "http://127.0.0.1:9465", "must be host:port, without a scheme"),
        ("product", "PRODUCT_METRICS_ADDRESS", "999.1.1.1:9464", "'999.1.1.1' is not an IPv4 address"),
        ("order", "ORDER_METRICS_ADDRESS", "::1:9465", "an IPv6 address goes in brackets"),
        ("product", "PRODUCT_EVENTS_BROKER_URL", "http://broker:5672", "must be a RabbitMQ URL"),
        ("order", "ORDER_EVENTS_EXCHANGE", "amq.topic", "must be 1-255 of letters, digits"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_and_exit_2(
    service: str, name: str, value: str, rule: str
) -> None:
    code, lines = serve(service, **{name: value})

    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{name}={value!r}: {rule}")


def test_a_sqlite_url_under_a_directory_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    url = f"sqlite:///{tmp_path}/a-file/sub/order.db"

    code, lines = serve("order", ORDER_DATABASE_URL=url)

    assert code == 2
    assert lines == [
        f"ORDER_DATABASE_URL={url!r}: cannot create directory {tmp_path}/a-file/sub: Not a directory"
    ]


def test_a_file_that_is_not_a_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "product.db"
    path.write_bytes(b"these bytes are no SQLite header, and there are enough of them to tell" * 20)
    url = f"sqlite:///{path}"

    code, lines = serve("product", PRODUCT_DATABASE_URL=url)

    assert code == 2
    assert lines == [
        f"PRODUCT_DATABASE_URL={url!r}: cannot use it as a SQLite database: file is not a database"
    ]


def test_auth_required_without_signing_keys_names_the_variables() -> None:
    code, lines = serve("product", PRODUCT_AUTH_MODE="required", PRODUCT_AUTH_ISSUER="https://idp.example")

    assert code == 2
    assert lines == [
        "PRODUCT_AUTH_MODE=required needs PRODUCT_AUTH_JWKS_URL or PRODUCT_AUTH_JWKS_FILE"
        " (the token signing keys)"
    ]


def test_every_problem_is_reported_at_once() -> None:
    code, lines = serve("order", ORDER_PRODUCT_RETRY_MAX_ATTEMPTS="abc", ORDER_MAX_WORKERS="0")

    assert code == 2
    assert sorted(line.split("=")[0] for line in lines) == [
        "ORDER_MAX_WORKERS",
        "ORDER_PRODUCT_RETRY_MAX_ATTEMPTS",
    ]


def test_the_traceback_shows_only_when_debugging() -> None:
    quiet = run_eshop(
        "product", "serve", env=cli_env(**EPHEMERAL, PRODUCT_MAX_WORKERS="0"), timeout_s=TIMEOUT_S
    )
    debug = run_eshop(
        "product",
        "serve",
        env=cli_env(**EPHEMERAL, PRODUCT_MAX_WORKERS="0", ESHOP_LOG_LEVEL="DEBUG"),
        timeout_s=TIMEOUT_S,
    )

    assert "Traceback" not in quiet.stderr
    assert (debug.returncode, "Traceback" in debug.stderr) == (2, True)
    assert debug.stderr.strip().splitlines()[-1].startswith("PRODUCT_MAX_WORKERS='0'")


def test_eshop_up_refuses_bad_configuration_before_starting_anything(tmp_path: Path) -> None:
    result = run_eshop(
        "up",
        env=cli_env(
            **EPHEMERAL,
            PRODUCT_DATABASE_URL=f"sqlite:///{tmp_path}/product.db",
            ORDER_DATABASE_URL=f"sqlite:///{tmp_path}/order.db",
            ORDER_PRODUCT_RETRY_MAX_ATTEMPTS="9",
        ),
        timeout_s=TIMEOUT_S,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ORDER_PRODUCT_RETRY_MAX_ATTEMPTS='9': must be an integer from 2 to 5"
    ]
    assert list(tmp_path.iterdir()) == []  # no service ran


def test_eshop_up_exits_2_when_a_service_finds_its_database_unusable(tmp_path: Path) -> None:
    (tmp_path / "product.db").write_bytes(b"not sqlite" * 100)
    product_url = f"sqlite:///{tmp_path}/product.db"

    result = run_eshop(
        "up",
        env=cli_env(
            **EPHEMERAL, PRODUCT_DATABASE_URL=product_url, ORDER_DATABASE_URL=f"sqlite:///{tmp_path}/order.db"
        ),
        timeout_s=TIMEOUT_S,
    )

    assert result.returncode == 2
    assert f"PRODUCT_DATABASE_URL={product_url!r}: cannot use it as a SQLite database" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("service", ["product", "order"])
def test_migrate_says_a_bad_value_the_same_way(service: str) -> None:
    name = f"{service.upper()}_DB_POOL_SIZE"
    result = run_eshop(service, "migrate", env=cli_env(**{name: "none"}), timeout_s=TIMEOUT_S)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"{name}='none': must be an integer of at least 1"]
