"""A usage error says what was wrong with what was typed, and never repeats a password typed in a URL."""

from __future__ import annotations

from tests.support.cli import run_eshop

SECRET = "s3cret-pw"


def test_a_usage_error_that_echoes_a_broker_url_masks_its_password() -> None:
    wrong_scheme = run_eshop("events", "watch", "--broker", f"http://watcher:{SECRET}@broker:5672/")
    stray = run_eshop("events", "watch", "--broker", "amqp://127.0.0.1:1/", f"amqp://other:{SECRET}@h/")

    assert wrong_scheme.returncode == 2
    assert "--broker 'http://watcher:***@broker:5672/': must be an amqp:// or amqps:// URL" in (
        wrong_scheme.stderr
    )
    assert stray.returncode == 2
    assert "unrecognized arguments: amqp://other:***@h/" in stray.stderr
    assert SECRET not in wrong_scheme.stderr + stray.stderr
