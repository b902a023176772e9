"""gRPC server bootstrap: interceptors, limits, health (tied to the database), reflection, graceful stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from loguru import logger

from common import configuration
from common.db.migrations import SchemaNotCurrent
from common.grpc.response_size import CLIENT_RECEIVE_LIMIT_BYTES
from common.grpc.server_interceptors import server_interceptors
from common.logging import configure_logging
from common.settings import LogSettings, ServerSettings

HEALTH_PROBE_INTERVAL_S = 1.0
S = TypeVar("S", bound=ServerSettings)


class CannotListen(RuntimeError):
    def __init__(self, address: str) -> None:
        super().__init__(f"cannot listen on {address}: the address is in use or not valid here")


@dataclass
class RunningServer:
    """A started server and what it takes to stop it well."""

    server: grpc.Server
    health: health.HealthServicer
    port: int
    service_names: Sequence[str]
    grace_s: float
    listen_address: str
    _stop_probe: threading.Event = field(default_factory=threading.Event)
    on_stop: list[Callable[[], object]] = field(default_factory=list)

    @property
    def address(self) -> str:
        """Where it listens, with the port the OS chose when the configured one was 0."""
        host = self.listen_address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    def stop(self, grace_s: float | None = None) -> None:
        """NOT_SERVING first (load balancers drain), then let in-flight calls finish, then clean up."""
        self._stop_probe.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(self.grace_s if grace_s is None else grace_s).wait()
        for callback in reversed(self.on_stop):
            callback()


def start_server(
    settings: ServerSettings,
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
    is_healthy: Callable[[], bool],
    extra_interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> RunningServer:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="rpc"),
        interceptors=[*extra_interceptors, *server_interceptors()],
        options=[
            # The largest request accepted says nothing about the largest answer: responses are kept
            # under what a default client accepts (pages stop at a byte budget below it).
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", CLIENT_RECEIVE_LIMIT_BYTES),
            ("grpc.so_reuseport", 0),
            ("grpc.max_connection_age_ms", round(settings.max_connection_age_s * 1000)),
            ("grpc.max_connection_age_grace_ms", round(settings.max_connection_age_grace_s * 1000)),
        ],
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
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
    server.start()
    running = RunningServer(
        server, health_servicer, port, service_names, settings.shutdown_grace_s, settings.listen_address
    )
    _start_health_probe(running, is_healthy)
    return running


def server_credentials(settings: ServerSettings) -> grpc.ServerCredentials | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    client_ca = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _start_health_probe(running: RunningServer, is_healthy: Callable[[], bool]) -> None:
    """SERVING only while the database answers; re-checked every second by a daemon thread."""

    def set_all(ok: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *running.service_names):
            running.health.set(name, status)

    def probe() -> None:
        last: bool | None = None
        while not running._stop_probe.is_set():
            ok = is_healthy()
            if ok != last:
                if last is not None:
                    logger.warning("health changed: {}", "SERVING" if ok else "NOT_SERVING (database down)")
                set_all(ok)
                last = ok
            running._stop_probe.wait(HEALTH_PROBE_INTERVAL_S)

    set_all(is_healthy())
    threading.Thread(target=probe, name="health-probe", daemon=True).start()


def serve_until_signalled(service: str, settings_class: type[S], start: Callable[[S], RunningServer]) -> None:
    """The body of ``eshop <service> serve``: settings and logging from the environment, start, run
    until a signal. Invalid configuration: every problem on one line each, exit status 2."""
    try:
        logs, settings = configuration.load(LogSettings, settings_class)
        assert isinstance(logs, LogSettings) and isinstance(settings, settings_class)
        configure_logging(service, logs.log_level, logs.log_json)
        running = start(settings)
    except configuration.ConfigurationError as error:
        configuration.report(error)
        raise SystemExit(configuration.EXIT_STATUS) from None
    except (CannotListen, SchemaNotCurrent) as error:
        logger.error("{} service not started: {}", service, error)
        raise SystemExit(1) from None
    wait_for_termination(running)
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
