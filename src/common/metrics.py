"""OpenTelemetry metrics for one service: a Prometheus scrape endpoint and, when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, OTLP push, from one meter provider of its own (two services in
one process, as in the tests, keep their metrics apart).

The gRPC instruments are named as gRPC's own OpenTelemetry metrics (gRFC A66), hand-written because
grpcio-observability hangs grpc.aio (grpc/grpc#43079) and pins an older grpcio.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import Counter, Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource

from common.host_port import parse_host_port

if TYPE_CHECKING:
    from common.metrics_endpoint import MetricsEndpoint

# gRFC A66's latency buckets, in seconds.
LATENCY_BUCKETS_S: Sequence[float] = (
    0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008,
    0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4,
    0.5, 0.65, 0.8, 1, 2, 5, 10, 20, 50, 100,
)  # fmt: skip


@dataclass
class ServiceMetrics:
    """A service's meter and where it is scraped (None: no endpoint)."""

    meter: Meter
    provider: MeterProvider
    endpoint: MetricsEndpoint | None = None

    @property
    def address(self) -> str | None:
        """The address bound, with the port the OS chose when the configured one was 0."""
        return None if self.endpoint is None else str(self.endpoint.bound)

    @property
    def url(self) -> str | None:
        return None if self.endpoint is None else self.endpoint.url

    def shutdown(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
        self.provider.shutdown()


def start_metrics(default_service_name: str, address: str) -> ServiceMetrics:
    """Scrape endpoint at ``http://address/metrics`` (empty: none); OTLP push when configured. An
    address that cannot be bound raises OSError."""
    readers: list[MetricReader] = []
    registry = None
    if address:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, ProcessCollector

        registry = CollectorRegistry()
        # process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
        # process_start_time_seconds, ... read from /proc at scrape time.
        ProcessCollector(registry=registry)
        # One instrumentation scope ("eshop") for every instrument: its otel_scope_* labels would
        # only repeat that on every series.
        readers.append(PrometheusMetricReader(registry=registry, scope_info_enabled=False))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))  # OTEL_METRIC_EXPORT_INTERVAL
    detected = OTELResourceDetector().detect()
    defaults = {} if SERVICE_NAME in detected.attributes else {SERVICE_NAME: default_service_name}
    provider = MeterProvider(metric_readers=readers, resource=Resource.create(defaults))
    metrics = ServiceMetrics(provider.get_meter("eshop"), provider)
    if registry is not None:
        from common.metrics_endpoint import MetricsEndpoint

        try:
            metrics.endpoint = MetricsEndpoint(registry, parse_host_port(address))
        except OSError:
            provider.shutdown()
            raise
    return metrics


def label_sets(**values: Iterable[str]) -> list[dict[str, str]]:
    """Every combination of the given label values: ``label_sets(result=("a", "b"))`` ->
    ``[{"result": "a"}, {"result": "b"}]``."""
    names = list(values)
    return [dict(zip(names, combination, strict=True)) for combination in itertools.product(*values.values())]


def counter_from_zero(
    meter: Meter,
    name: str,
    *,
    unit: str,
    description: str,
    known: Iterable[Mapping[str, str]] = ({},),
) -> Counter:
    """A counter exported from start-up at 0 for each of its ``known`` label sets (a counter without
    labels: the one empty set). A series that appears only with its first event shows that event to no
    ``rate()`` or ``increase()``, and after a restart can come back above the value it had; so every
    label value known in advance is exported before anything happens."""
    counter = meter.create_counter(name, unit=unit, description=description)
    for labels in known:
        counter.add(0, dict(labels))
    return counter


class CachedValue:
    """The last value a background refresh computed, for observable gauges read at scrape time (a
    query never runs per scrape or per call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = {}

    def set(self, **values: float) -> None:
        with self._lock:
            self._values.update(values)

    def get(self, name: str) -> float | None:
        with self._lock:
            return self._values.get(name)

    def callback(self, name: str) -> Callable[[Any], list[Any]]:
        from opentelemetry.metrics import Observation

        def observe(_options: Any) -> list[Any]:
            value = self.get(name)
            return [] if value is None else [Observation(value)]

        return observe


def observe_pool(meter: Meter, in_use: Callable[[], int]) -> None:
    """The database pool's connections in use, read at scrape time (a counter of the pool, no query)."""
    from opentelemetry.metrics import Observation

    meter.create_observable_up_down_counter(
        "eshop.db.pool.connections_in_use",
        [lambda _options: [Observation(in_use())]],
        unit="{connection}",
        description="Database connections checked out of the pool right now",
    )
