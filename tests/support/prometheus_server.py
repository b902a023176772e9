"""A private Prometheus server for a test: the ``prometheus`` binary (Debian's package, which
``.ci/run`` installs where missing) on a free port of 127.0.0.1, with a data directory and a
configuration of its own, scraping the targets it is given every second and evaluating the shipped
rules every second. Never the system's service.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
START_TIMEOUT_S = 30.0


def binary(name: str) -> str:
    """Where ``prometheus`` or ``promtool`` is; a failure (never a skip) naming the package if nowhere."""
    found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/local/bin")
    if found is None:
        raise AssertionError(f"{name} not found: install Debian's prometheus package (bash .ci/run does)")
    return found


class QueryFailed(AssertionError):
    """Prometheus refused a query (it does not parse, or cannot be evaluated)."""


class PrivatePrometheus:
    def __init__(
        self,
        workdir: Path,
        jobs: Mapping[str, Sequence[str]],
        rule_files: Sequence[Path] = (PROMETHEUS_DIR / "rules.yml",),
        interval_ms: int = 1000,
    ) -> None:
        """``jobs``: job name -> ``host:port`` targets (scraped at /metrics)."""
        workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": f"{interval_ms}ms", "evaluation_interval": f"{interval_ms}ms"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(targets)}]}
                for job, targets in jobs.items()
            ],
        }
        config_file = workdir / "prometheus.yml"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        self.address = f"127.0.0.1:{free_port()}"
        self._log = (workdir / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={self.address}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._log_path = workdir / "prometheus.log"
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise AssertionError(f"prometheus exited: {self._log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"http://{self.address}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                log = self._log_path.read_text()
                raise AssertionError(f"prometheus not ready in {START_TIMEOUT_S} s: {log}")
            time.sleep(0.1)

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The result of an instant query (vector elements: ``{"metric": {...}, "value": [t, "v"]}``)."""
        params = {"query": expr, **({} if at is None else {"time": f"{at:.3f}"})}
        url = f"http://{self.address}/api/v1/query?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            answer = json.load(error)
        if answer.get("status") != "success":
            raise QueryFailed(f"{expr!r}: {answer.get('errorType')}: {answer.get('error')}")
        data = answer["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """The query's samples: sorted labels (``__name__`` left out) -> value."""
        return {
            tuple(sorted((k, v) for k, v in sample["metric"].items() if k != "__name__")): float(
                sample["value"][1]
            )
            for sample in self.query(expr)
        }

    def rules(self) -> list[dict[str, Any]]:
        """Every rule Prometheus loaded (``type`` recording or alerting, ``name``, ``health``, ...)."""
        with urllib.request.urlopen(f"http://{self.address}/api/v1/rules", timeout=10) as response:
            groups = json.load(response)["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()
