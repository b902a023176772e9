"""``telemetry.installed()`` reads this project's own switch instead of asking ``get_tracer_provider()``
(which looks an environment variable up on every call): it is on exactly when a provider that makes
spans is in place, installed by ``telemetry.install`` or named by OpenTelemetry's own variable.

Each case runs in a fresh interpreter: the global tracer provider can be set once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_AGREES = """
from opentelemetry import trace
from common import telemetry

print(telemetry.installed(), end=" ")
{step}
print(telemetry.installed(), not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider))
"""


def _run(step: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(env)
    code = _AGREES.format(step=textwrap.dedent(step))
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("step", "env", "expected"),
    [
        # No endpoint, nothing installed: no spans.
        ("telemetry.configure_tracing('eshop-test')", {}, "False False False"),
        # A provider installed in code (as the tests' in-memory exporters do).
        (
            "from opentelemetry.sdk.trace import TracerProvider; p = TracerProvider(); "
            "trace.set_tracer_provider(p); telemetry.install(p)",
            {},
            "False True True",
        ),
        # The API's own variable: resolved at start-up by configure_tracing even without an endpoint
        # (nothing else in this process makes a tracer first).
        (
            "telemetry.configure_tracing('eshop-test')",
            {"OTEL_PYTHON_TRACER_PROVIDER": "sdk_tracer_provider"},
            "False True True",
        ),
    ],
    ids=["nothing-installed", "installed-in-code", "named-by-OTEL_PYTHON_TRACER_PROVIDER"],
)
def test_installed_agrees_with_the_api_after_start_up(step: str, env: dict[str, str], expected: str) -> None:
    # Printed: installed() before the step, installed() after it, and the API's own answer after it.
    assert _run(step, **env) == expected
