"""gRPC server bootstrap on ``grpc.aio``: interceptors, limits, admission control, health (tied to the
database), reflection, background tasks, graceful stop.

Each server runs on an event loop of its own, in a dedicated thread, so ``start`` and
``RunningServer.stop`` work from ordinary synchronous code (tests, the CLI): ``stop`` schedules the
graceful stop on the server's loop and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from loguru import logger
from opentelemetry.metrics import Meter

from common import configuration, telemetry
from common.auth.authenticate import Authenticator, authenticator_from
from common.auth.policy import AccessPolicy
from common.db.migrations import SchemaNotCurrent
from common.grpc.auth_interceptor import AuthInterceptor
from common.grpc.auth_warnings import warn_about_auth_settings
from common.grpc.call_metrics import unary_methods
from common.grpc.exposure import warn_if_exposed
from common.grpc.response_size import CLIENT_RECEIVE_LIMIT_BYTES
from common.grpc.server_interceptors import server_interceptors
from common.logging import configure_logging
from common.metrics import CachedValue, ServiceMetrics, start_metrics
from common.settings import LogSettings, ServerSettings

HEALTH_PROBE_INTERVAL_S = 1.0
LIVENESS = ""  # the overall health name: liveness; the service names are readiness
S = TypeVar("S", bound=ServerSettings)
T = TypeVar("T")
DENY_ALL = AccessPolicy({})


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


class BackgroundTask(Protocol):
    """Work a service does beside its calls (the outbox worker, the reconciler), on the server's loop."""

    def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class ServerParts:
    """What a service puts on its server; built on the server's loop (aio channels and the objects
    holding them belong to the loop they were made on)."""

    register: Callable[[grpc.aio.Server], None]
    service_names: Sequence[str]
    is_healthy: Callable[[], Awaitable[bool]]
    background: Sequence[BackgroundTask] = ()
    # Closed on the loop after the server and the background tasks have stopped (e.g. aio channels).
    close: Callable[[], Awaitable[None]] | None = None
    # Who may call what, enforced when *_AUTH_MODE=required (none given: every method is refused).
    access_policy: AccessPolicy | None = None
    # The service's meter: gRPC call metrics (gRFC A66) from the server interceptors; None: none.
    meter: Meter | None = None


class ServerLoop:
    """An event loop running in a thread of its own, for one server."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop; wait for its result from this (another) thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        """Cancel what is still running on the loop (as ``asyncio.run`` does), then stop and close it."""
        self.call(_cancel_remaining_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_remaining_tasks() -> None:
    current = asyncio.current_task()
    remaining = [task for task in asyncio.all_tasks() if task is not current]
    for task in remaining:
        task.cancel()
    await asyncio.gather(*remaining, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


@dataclass
class RunningServer:
    """A started server and what it takes to stop it well."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    service_names: Sequence[str]
    grace_s: float
    listen_address: str
    runner: ServerLoop
    parts: ServerParts
    metrics_address: str | None = None  # where /metrics is served, port as bound (None: nowhere)
    _probe: asyncio.Task[None] | None = None
    _stopped: bool = False
    on_stop: list[Callable[[], object]] = field(default_factory=list)

    @property
    def address(self) -> str:
        """Where it listens, with the port the OS chose when the configured one was 0."""
        host = self.listen_address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's loop (e.g. one pass of a background task, from a test)."""
        return self.runner.call(coroutine)

    def stop(self, grace_s: float | None = None) -> None:
        """NOT_SERVING first (load balancers drain), then let in-flight calls finish, then clean up."""
        if self._stopped:
            return
        self._stopped = True
        self.runner.call(self._stop(self.grace_s if grace_s is None else grace_s))
        self.runner.close()
        for callback in reversed(self.on_stop):
            callback()

    async def _stop(self, grace_s: float) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)
        for task in reversed(self.parts.background):
            await task.stop()
        if self.parts.close is not None:
            await self.parts.close()


def start_server(
    settings: ServerSettings,
    build: Callable[[], ServerParts],
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    settings_warnings: Sequence[str] = (),
) -> RunningServer:
    """Start a server on a loop of its own; ``build`` runs on that loop before the server starts.
    ``extra_interceptors`` go before the services' own, ``inner_interceptors`` after them (a fault a
    test injects there is seen by the call metrics, as the handler's own would be). An unusable key file
    (auth required) is a ConfigurationError, raised before anything starts; authentication settings
    that are surely a mistake are WARNINGs (``settings_warnings``: the service's own, besides)."""
    warn_about_auth_settings(settings, *settings_warnings)
    authenticator = authenticator_from(settings)
    runner = ServerLoop("grpc-server")
    try:
        return runner.call(
            _start(
                settings,
                build,
                extra_interceptors,
                inner_interceptors,
                authenticator=authenticator,
                runner=runner,
            )
        )
    except BaseException:
        runner.close()
        raise


async def _start(
    settings: ServerSettings,
    build: Callable[[], ServerParts],
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor],
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor],
    *,
    authenticator: Authenticator | None,
    runner: ServerLoop,
) -> RunningServer:
    parts = build()
    # The unary methods the interceptors will see, which the metrics export at 0 from start-up.
    service_methods = unary_methods(parts.service_names)
    auth = (
        []
        if authenticator is None
        else [AuthInterceptor(authenticator, parts.access_policy or DENY_ALL, parts.meter, service_methods)]
    )
    server = grpc.aio.server(
        interceptors=[
            *extra_interceptors,
            *server_interceptors(
                parts.meter,
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
    parts.register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*parts.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
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
    running = RunningServer(
        server,
        health_servicer,
        port,
        parts.service_names,
        settings.shutdown_grace_s,
        settings.listen_address,
        runner,
        parts,
    )
    running._probe = await _start_health_probe(running, parts.is_healthy, parts.meter)
    for task in parts.background:
        task.start()
    return running


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
    running: RunningServer, is_healthy: Callable[[], Awaitable[bool]], meter: Meter | None
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
        for name in running.service_names:
            await running.health.set(name, status)

    async def probe(last: bool) -> None:
        while True:
            await asyncio.sleep(HEALTH_PROBE_INTERVAL_S)
            ok = await is_healthy()
            if ok != last:
                logger.warning("readiness changed: {}", "SERVING" if ok else "NOT_SERVING (database down)")
                await set_ready(ok)
                last = ok

    await running.health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    first = await is_healthy()
    await set_ready(first)
    return asyncio.get_running_loop().create_task(probe(first), name="health-probe")


def serve_until_signalled(service: str, settings_class: type[S], start: Callable[[S], RunningServer]) -> None:
    """The body of ``eshop <service> serve``: settings and logging from the environment, start, run
    until a signal. Invalid configuration: every problem on one line each, exit status 2 (1 for a
    database server that did not answer)."""
    try:
        logs, settings = configuration.load(LogSettings, settings_class)
        assert isinstance(logs, LogSettings) and isinstance(settings, settings_class)
        configure_logging(service, logs.log_level, logs.log_json)
        stop_tracing = telemetry.configure_tracing(f"eshop-{service}")
        running = start(settings)
    except configuration.ConfigurationError as error:
        configuration.report(error)
        raise SystemExit(error.exit_status) from None
    except (CannotListen, CannotServeMetrics, SchemaNotCurrent) as error:
        logger.error("{} service not started: {}", service, error)
        raise SystemExit(1) from None
    wait_for_termination(running)
    if stop_tracing is not None:
        stop_tracing()  # flushes the spans still batched
    logger.info("{} service stopped", service)


def wait_for_termination(running: RunningServer) -> None:
    """Block until SIGTERM or SIGINT, then stop gracefully."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logger.info("received {}, stopping (grace {} s)", signal.Signals(signum).name, running.grace_s)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(0.5):  # a short wait keeps the main thread responsive to signals
        pass
    running.stop()
