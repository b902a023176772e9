"""The rules an operator loads (deploy/prometheus/rules.yml) pass their own unit test under promtool,
and the Prometheus configuration shipped beside them loads them."""

from __future__ import annotations

import subprocess

from tests.prometheus_server import PROMETHEUS_DIR, binary


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_rule_passes_its_promtool_unit_test() -> None:
    result = _promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_shipped_prometheus_configuration_loads_the_rules() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules.yml" in result.stdout
