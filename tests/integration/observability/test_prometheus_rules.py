"""The rules an operator loads (deploy/prometheus/rules.yml) pass their own unit test under promtool,
and the Prometheus configuration shipped beside them loads them."""

from __future__ import annotations

import re
import subprocess

from tests.support.prometheus_server import PROMETHEUS_DIR, binary


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


def test_the_alerts_share_one_group_with_the_recording_rules_they_read() -> None:
    """Groups are evaluated in no set order (promtool's unit test flaked 3 times in 30 with two), the
    rules of one group in order: alerts after the recording rules they read, in the same group."""
    rules = (PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8")
    assert len(re.findall(r"^  - name: ", rules, flags=re.MULTILINE)) == 1
    first_alert = rules.index("- alert: ")
    assert "- record: " not in rules[first_alert:]
