"""A service is a declaration (``Service``); ``serve`` runs any of them, the one way both services start
and stop.

``serve`` is the body of ``eshop <service> serve``: settings and logging from the environment, tracing,
then ``asyncio.run`` until SIGTERM or SIGINT, which the loop's own signal handlers turn into a graceful
stop. Start-up, in order: the service's own checks, the authentication settings (warnings, then the
keys), the metrics endpoint, the container with the service's meter, the business counters at 0, the
database (opened, migrated or checked), the servicer and the background workers (made on the loop:
aio channels belong to it), the gRPC server with health and reflection, then the workers (the
reconciler's first pass resolves what a crash left). Stopping goes in one order, whatever ends the run
(a signal, or a start-up step that failed half-way): health NOT_SERVING and ``server.stop(grace)`` (the
calls in flight get ``SHUTDOWN_GRACE_S``), the handlers' work that outlived its call (shielded from
the caller's cancellation: ``SHUTDOWN_GRACE_S`` more, then cancelled), the background workers (each
finishes its step), the resources (the service's own, such as the Order service's channel and a
broker's connection, then the container's: the database), then metrics, then the key source (a JWKS
fetch in flight is waited for); tracing is flushed last, once the loop has ended.

Invalid configuration is one line per problem and exit status 2; a database that never answered, a
schema to migrate first, or an address that cannot be bound, one line and exit status 1.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import grpc
from dependency_injector import providers
from loguru import logger

from common import configuration, telemetry
from common.auth.authenticate import authenticator_from
from common.auth.policy import AccessPolicy
from common.behaviours import OwnedWork
from common.db.database import Database, DatabaseUnreachable, DatabaseUnusable
from common.db.migrations import SchemaNotCurrent
from common.events.broker_url import events_destination
from common.grpc.auth_warnings import warn_about_auth_settings
from common.grpc.server import (
    CannotListen,
    CannotServeMetrics,
    GrpcServer,
    start_grpc_server,
    start_service_metrics,
)
from common.logging import configure_logging
from common.metrics import observe_pool
from common.settings import LogSettings, ServerSettings
from common.version import VERSION

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class BackgroundWorker(Protocol):
    """Work a service does beside its calls (a periodic worker), on the server's loop."""

    def start(self) -> None: ...
    async def stop(self) -> None: ...


class ServiceContainer(Protocol):
    """What ``serve`` asks of a service's composition root (a dependency-injector container built with
    ``settings`` and ``meter`` providers)."""

    @property
    def database(self) -> Callable[[], Database]: ...
    @property
    def servicer(self) -> Callable[[], object]: ...
    @property
    def owned_work(self) -> Callable[[], OwnedWork]: ...
    def init_resources(self) -> object: ...
    def shutdown_resources(self) -> object: ...


S = TypeVar("S", bound=ServerSettings)
C = TypeVar("C", bound=ServiceContainer)


def _nothing(_: object) -> Sequence[Any]:
    return ()


@dataclass(frozen=True)
class Service(Generic[S, C]):
    """Everything that makes one service what it is; ``serve`` and ``start`` do the rest."""

    name: str  # "product": its log lines, its default telemetry name (eshop-product)
    settings: type[S]
    # The composition root, called with ``settings=`` and ``meter=`` providers.
    container: Callable[..., C]
    # The generated ``add_<Service>Servicer_to_server``, and the names it serves (readiness, reflection).
    add_servicer: Callable[[Any, grpc.aio.Server], None]
    service_names: Sequence[str]
    # Who may call what, enforced when ``*_AUTH_MODE=required``.
    access_policy: Callable[[S], AccessPolicy]
    # Made on the server's loop once the database is open; started after the server, stopped after it.
    workers: Callable[[C], Sequence[BackgroundWorker]] = _nothing
    # Built at start-up, so that their counters are exported at 0 before the first event.
    outcomes: Callable[[C], Sequence[object]] = _nothing
    # Closed on the loop after the workers, before the container's resources (e.g. an aio channel).
    closing: Callable[[C], Sequence[Callable[[], Awaitable[None]]]] = _nothing
    # Settings a service refuses to start with, beyond what they validate (a ConfigurationError).
    checks: Sequence[Callable[[S], None]] = ()
    # Settings that work but are surely a mistake: one WARNING each at start.
    warnings: Callable[[S], Sequence[str]] = _nothing
    # What the start-up line says besides the address, the database and the metrics.
    describe: Callable[[S], Sequence[str]] = _nothing


@dataclass
class RunningService(Generic[C]):
    """A started service: where it listens and what it is made of, and how it stops."""

    name: str
    container: C
    grpc: GrpcServer
    metrics_address: str | None  # where /metrics is served, port as bound (None: nowhere)
    grace_s: float
    _stack: AsyncExitStack = field(repr=False)

    @property
    def address(self) -> str:
        return self.grpc.address

    @property
    def port(self) -> int:
        return self.grpc.port

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop in the documented order (see the module); ``grace_s`` replaces ``SHUTDOWN_GRACE_S``.
        Stopping twice does nothing more."""
        if grace_s is not None:
            self.grace_s = grace_s
        await self._stack.aclose()


async def start(
    service: Service[S, C],
    settings: S,
    *,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> RunningService[C]:
    """Start ``service`` on the running loop; whatever was started is stopped again if a step fails.
    ``extra_interceptors`` go before the services' own, ``inner_interceptors`` after them."""
    # Each step pushes what undoes it: leaving the stack undoes them in reverse, the documented order.
    stack = AsyncExitStack()
    try:
        for check in service.checks:
            check(settings)
        warn_about_auth_settings(settings, *service.warnings(settings))
        # An unusable key file is a ConfigurationError; a JWKS URL is fetched once, not on the loop.
        authenticator = await asyncio.to_thread(authenticator_from, settings)
        if authenticator is not None:
            # Last of all (after the server): no key fetch outlives the service.
            stack.push_async_callback(asyncio.to_thread, authenticator.close)
        metrics = start_service_metrics(f"eshop-{service.name}", settings)
        stack.callback(metrics.shutdown)
        container = service.container(
            settings=providers.Object(settings), meter=providers.Object(metrics.meter)
        )
        service.outcomes(container)
        _open_resources(container, settings)
        stack.callback(container.shutdown_resources)
        database = container.database()
        if database.concurrent_transactions:
            observe_pool(metrics.meter, database.connections_in_use)
        servicer = container.servicer()
        workers = service.workers(container)
        for close in service.closing(container):
            stack.push_async_callback(close)
        server = await start_grpc_server(
            settings,
            lambda server: service.add_servicer(servicer, server),
            service.service_names,
            database.is_ready,
            access_policy=service.access_policy(settings),
            authenticator=authenticator,
            meter=metrics.meter,
            extra_interceptors=extra_interceptors,
            inner_interceptors=inner_interceptors,
        )
        for worker in workers:
            worker.start()
            stack.push_async_callback(worker.stop)
        # Right after the server: handler work that outlived its call gets the grace too, then ends.
        stack.push_async_callback(lambda: container.owned_work().drain(started.grace_s))
        stack.push_async_callback(lambda: server.stop(started.grace_s))
    except BaseException:
        await stack.aclose()
        raise
    started = RunningService(
        service.name, container, server, metrics.address, settings.shutdown_grace_s, stack
    )
    details = [
        f"database {database.redacted_url()}",
        *service.describe(settings),
        f"metrics {metrics.url or 'off'}",
        f"events {events_destination(settings)}",
    ]
    logger.info(
        "{} service {} listening on {} ({})", service.name, VERSION, server.address, ", ".join(details)
    )
    return started


def _open_resources(container: ServiceContainer, settings: ServerSettings) -> None:
    """Open the database (and whatever else the container holds as a resource): a setting that cannot
    work is a configuration problem naming the variable (exit 2; 1 when nothing answered yet)."""
    try:
        container.init_resources()
    except DatabaseUnusable as error:
        raise configuration.problem(settings, "database_url", error) from error
    except DatabaseUnreachable as error:
        raise configuration.problem(settings, "database_url", error, exit_status=1) from error


@asynccontextmanager
async def running(
    service: Service[S, C], settings: S, **interceptors: Sequence[grpc.aio.ServerInterceptor]
) -> AsyncIterator[RunningService[C]]:
    """``start`` on entry, ``stop`` on exit."""
    started = await start(service, settings, **interceptors)
    try:
        yield started
    finally:
        await started.stop()


def serve(
    service: Service[Any, Any], *, extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
) -> None:
    """The body of ``eshop <service> serve``: run until SIGTERM or SIGINT, then stop gracefully.
    ``extra_interceptors``: a harness's own, outermost (the benchmark's query counter)."""
    try:
        logs, settings = configuration.load(LogSettings, service.settings)
        assert isinstance(logs, LogSettings) and isinstance(settings, service.settings)
        configure_logging(service.name, logs.log_level, logs.log_json)
        stop_tracing = telemetry.configure_tracing(f"eshop-{service.name}")
    except configuration.ConfigurationError as error:
        configuration.report(error)
        raise SystemExit(error.exit_status) from None
    try:
        asyncio.run(_until_signalled(service, settings, extra_interceptors))
    except configuration.ConfigurationError as error:
        configuration.report(error)
        raise SystemExit(error.exit_status) from None
    except (CannotListen, CannotServeMetrics, SchemaNotCurrent) as error:
        logger.error("{} service not started: {}", service.name, error)
        raise SystemExit(1) from None
    finally:
        if stop_tracing is not None:
            stop_tracing()  # flushes the spans still batched
    logger.info("{} service stopped", service.name)


async def _until_signalled(
    service: Service[S, Any], settings: S, extra_interceptors: Sequence[grpc.aio.ServerInterceptor]
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum)
        stop.set()

    for signum in STOP_SIGNALS:  # also during start-up: the stop then follows it at once
        loop.add_signal_handler(signum, on_signal, signum)
    async with running(service, settings, extra_interceptors=extra_interceptors) as started:
        await stop.wait()
        logger.info("received {}, stopping (grace {} s)", received[0].name, started.grace_s)
