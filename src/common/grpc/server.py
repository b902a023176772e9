"""A ``grpc.aio`` server with what every one of ours carries: the interceptor chain, the limits and
admission control, health (liveness, and readiness tied to the database), reflection, TLS when
configured. ``common.service`` starts one per service, on the running loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from loguru import logger
from opentelemetry.metrics import Meter

from common import configuration
from common.auth.authenticate import Authenticator
from common.auth.policy import AccessPolicy
from common.grpc.auth_interceptor import AuthInterceptor
from common.grpc.call_metrics import unary_methods
from common.grpc.exposure import warn_if_exposed
from common.grpc.response_size import CLIENT_RECEIVE_LIMIT_BYTES
from common.grpc.server_interceptors import server_interceptors
from common.host_port import HostPort, split_host_port
from common.metrics import CachedValue, ServiceMetrics, start_metrics
from common.settings import ServerSettings

HEALTH_PROBE_INTERVAL_S = 1.0
LIVENESS = ""  # the overall health name: liveness; the service names are readiness


class CannotListen(RuntimeError):
    def __init__(self, address: str) -> None:
        super().__init__(f"cannot listen on {address}: the address is in use or not valid here")


class CannotServeMetrics(RuntimeError):
    """The metrics address passed the settings' check but cannot be bound (taken, not an address of
    this host): said with its variable, and apart from the gRPC address's own failure."""

    def __init__(self, settings: ServerSettings, error: OSError) -> None:
        reason = error.strerror or str(error)
        super().__init__(
            f"{configuration.variable(settings, 'metrics_address')}="
            f"{configuration.shown(settings.metrics_address)}: cannot serve metrics there: {reason}"
        )


@dataclass
class GrpcServer:
    """A started server, its health service and the task that keeps readiness up to date."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    listen_address: str
    probe: asyncio.Task[None]

    @property
    def address(self) -> str:
        """Where it listens, with the port the OS chose when the configured one was 0."""
        host, _ = split_host_port(self.listen_address)
        return str(HostPort(host, self.port))

    async def stop(self, grace_s: float) -> None:
        """NOT_SERVING first (load balancers drain), then the calls in flight get ``grace_s`` to finish."""
        self.probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.probe
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


async def start_grpc_server(
    settings: ServerSettings,
    add_services: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    is_ready: Callable[[], Awaitable[bool]],
    *,
    access_policy: AccessPolicy,
    authenticator: Authenticator | None,
    meter: Meter | None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> GrpcServer:
    """Start serving ``service_names`` (added by ``add_services``) on the running loop.
    ``extra_interceptors`` go before the services' own, ``inner_interceptors`` after them (a fault a
    test injects there is seen by the call metrics, as the handler's own would be)."""
    # The unary methods the interceptors will see, which the metrics export at 0 from start-up.
    service_methods = unary_methods(service_names)
    auth = (
        []
        if authenticator is None
        else [AuthInterceptor(authenticator, access_policy, meter, service_methods)]
    )
    server = grpc.aio.server(
        interceptors=[
            *extra_interceptors,
            *server_interceptors(
                meter,
                auth,
                innermost=not inner_interceptors,
                methods=[*service_methods, *unary_methods([health.SERVICE_NAME])],
            ),
            *inner_interceptors,
        ],
        options=[
            # The largest request accepted says nothing about the largest answer: responses are kept
            # under what a default client accepts (pages stop at a byte budget below it).
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", CLIENT_RECEIVE_LIMIT_BYTES),
            ("grpc.so_reuseport", 0),
            ("grpc.max_connection_age_ms", round(settings.max_connection_age_s * 1000)),
            ("grpc.max_connection_age_grace_ms", round(settings.max_connection_age_grace_s * 1000)),
        ],
        # Admission control: beyond this many calls in flight the server answers RESOURCE_EXHAUSTED at
        # once; below it every call is a task on the loop (there is no other queue to bound).
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )
    add_services(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    credentials = server_credentials(settings)
    try:
        if credentials is None:
            port = server.add_insecure_port(settings.listen_address)
        else:
            port = server.add_secure_port(settings.listen_address, credentials)
    except RuntimeError as error:  # grpc's own "Failed to bind"
        raise CannotListen(settings.listen_address) from error
    if port == 0:
        raise CannotListen(settings.listen_address)
    warn_if_exposed(settings)
    await server.start()
    probe = await _start_health_probe(health_servicer, service_names, is_ready, meter)
    return GrpcServer(server, health_servicer, port, settings.listen_address, probe)


def start_service_metrics(default_service_name: str, settings: ServerSettings) -> ServiceMetrics:
    """The service's meter and its scrape endpoint; an address that cannot be bound is
    CannotServeMetrics."""
    try:
        return start_metrics(default_service_name, settings.metrics_address)
    except OSError as error:
        raise CannotServeMetrics(settings, error) from error


def server_credentials(settings: ServerSettings) -> grpc.ServerCredentials | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    client_ca = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


async def _start_health_probe(
    health_servicer: health.aio.HealthServicer,
    service_names: Sequence[str],
    is_ready: Callable[[], Awaitable[bool]],
    meter: Meter | None,
) -> asyncio.Task[None]:
    """Liveness and readiness: the overall name ``""`` is SERVING while the process runs (a database
    blip must not get the pod restarted); the service names are SERVING only while the database
    answers, re-checked every second by a task on the loop. Graceful shutdown turns all NOT_SERVING.
    The last answer is the gauge ``eshop.db.ready`` (1 or 0), for an alert."""
    last_answer = CachedValue()
    if meter is not None:
        meter.create_observable_gauge(
            "eshop.db.ready",
            [last_answer.callback("ready")],
            description="1 while the database answers the readiness probe (every second), else 0",
        )

    async def set_ready(ok: bool) -> None:
        last_answer.set(ready=float(ok))
        status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in service_names:
            await health_servicer.set(name, status)

    failing = False  # the probe raised last time (said once per episode, not every second)

    async def answer() -> bool:
        """The database's readiness; a probe that raises (a driver's or a pool's failure nobody
        classified) is NOT_SERVING, never the end of the probe loop."""
        nonlocal failing
        try:
            ok = await is_ready()
        except Exception:
            if not failing:
                logger.opt(exception=True).warning("readiness probe failed; NOT_SERVING until it answers")
            failing = True
            return False
        failing = False
        return ok

    async def probe(last: bool) -> None:
        while True:
            await asyncio.sleep(HEALTH_PROBE_INTERVAL_S)
            ok = await answer()
            if ok != last:
                logger.warning("readiness changed: {}", "SERVING" if ok else "NOT_SERVING (database down)")
                await set_ready(ok)
                last = ok

    await health_servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    first = await answer()
    await set_ready(first)
    return asyncio.get_running_loop().create_task(probe(first), name="health-probe")
