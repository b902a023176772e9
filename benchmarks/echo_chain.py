"""The ceiling: a bare two-hop echo chain (client -> front -> back), same server model as our services.

Each server is a sync ``grpc.server`` with a ThreadPoolExecutor of 10 workers, a health service (for
the start-up wait only) and one unary method defined with ``method_handlers_generic_handler`` and
bytes in, bytes out: no protobuf, no interceptors, no database. The front server forwards each
request to the back server over one long-lived channel, with a deadline, as the Order service does.

Run a server: ``python -c "from benchmarks.echo_chain import serve; serve()"`` with
``ECHO_LISTEN_ADDRESS`` and optionally ``ECHO_NEXT_TARGET`` set.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from benchmarks.services import ServerProcess, free_port, spawn, stop_all

SERVICE = "benchmarks.Echo"
METHOD = f"/{SERVICE}/Echo"
WORKERS = 10  # as ServerSettings.max_workers
CALL_TIMEOUT_S = 5.0  # as the Order service's product_call_timeout_s


def _identity(data: bytes) -> bytes:
    return data


def build_server(listen_address: str, next_target: str | None) -> grpc.Server:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS))
    if next_target is None:

        def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
            return request

    else:
        channel = grpc.insecure_channel(next_target)
        forward = channel.unary_unary(METHOD, request_serializer=_identity, response_deserializer=_identity)

        def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
            reply: bytes = forward(request, timeout=CALL_TIMEOUT_S)
            return reply

    handler = grpc.unary_unary_rpc_method_handler(
        echo, request_deserializer=_identity, response_serializer=_identity
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Echo": handler}),))
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(listen_address) == 0:
        raise RuntimeError(f"cannot listen on {listen_address}")
    return server


def serve() -> None:
    """Entry point of an echo server subprocess: runs until SIGTERM/SIGINT."""
    server = build_server(os.environ["ECHO_LISTEN_ADDRESS"], os.environ.get("ECHO_NEXT_TARGET") or None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    while not stop.wait(0.5):
        pass
    server.stop(1).wait()


def start_chain(workdir: Path) -> list[ServerProcess]:
    """Back server first, then the front server that forwards to it; returns [back, front]."""
    code = "from benchmarks.echo_chain import serve; serve()"
    back_address = f"127.0.0.1:{free_port()}"
    back = spawn("echo-back", code, {"ECHO_LISTEN_ADDRESS": back_address}, back_address, workdir)
    servers = [back]
    try:
        back.wait_until_serving()
        front_address = f"127.0.0.1:{free_port()}"
        env = {"ECHO_LISTEN_ADDRESS": front_address, "ECHO_NEXT_TARGET": back_address}
        front = spawn("echo-front", code, env, front_address, workdir)
        servers.append(front)
        front.wait_until_serving()
    except BaseException:
        stop_all(servers)
        raise
    return servers
