"""``python -m benchmarks.auth_echo``: what authentication costs one call, on a bare ``grpc.aio`` echo server
with the services' interceptors: auth off, an empty extra interceptor (the layer alone), and auth required
with a remembered token. Server CPU per call (from /proc), medians of alternating rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from benchmarks.services import free_port, process_cpu_s, spawn
from common.auth.dev_keys import DEV_ISSUER, ensure_dev_keys, mint_token

VARIANTS = ("off", "layer", "required")
METHOD = "/bench.Echo/Echo"

SERVER = """
import asyncio, sys
from pathlib import Path
import grpc
from loguru import logger
from common.auth.authenticate import authenticator_from
from common.auth.policy import ANY_AUTHENTICATED, AccessPolicy
from common.grpc.auth_interceptor import AuthInterceptor
from common.grpc.handler_wrapping import UnaryServerInterceptor
from common.grpc.server_interceptors import server_interceptors
from product.settings import ProductSettings

variant, port, jwks = {variant!r}, {port}, {jwks!r}
logger.remove()

class Layer(UnaryServerInterceptor):
    async def around(self, behaviour, request, context, method):
        return await behaviour(request, context)

async def echo(request, context):
    return request

async def main():
    extra = []
    if variant == "layer":
        extra = [Layer()]
    elif variant == "required":
        settings = ProductSettings(auth_mode="required", auth_jwks_file=Path(jwks), auth_issuer={issuer!r})
        policy = AccessPolicy({{{method!r}: ANY_AUTHENTICATED}})
        extra = [AuthInterceptor(authenticator_from(settings), policy)]
    server = grpc.aio.server(interceptors=server_interceptors(extra))
    handler = grpc.unary_unary_rpc_method_handler(echo)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bench.Echo", {{"Echo": handler}})])
    server.add_insecure_port(f"127.0.0.1:{{port}}")
    await server.start()
    await server.wait_for_termination()

asyncio.run(main())
"""


def _round(variant: str, *, jwks: Path, token: str, calls: int, concurrency: int, workdir: Path) -> float:
    port = free_port()
    code = SERVER.format(variant=variant, port=port, jwks=str(jwks), issuer=DEV_ISSUER, method=METHOD)
    server = spawn(f"echo-{variant}", code, {}, f"127.0.0.1:{port}", workdir)
    try:
        with grpc.insecure_channel(server.address) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            call = channel.unary_unary(METHOD)
            metadata = (("authorization", f"Bearer {token}"),)

            def one(_: int) -> None:
                call(b"x" * 64, timeout=10, metadata=metadata)

            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                list(pool.map(one, range(500)))
                before = process_cpu_s(server.pid)
                list(pool.map(one, range(calls)))
                after = process_cpu_s(server.pid)
    finally:
        server.stop()
    if before is None or after is None:
        raise RuntimeError("process CPU time needs /proc (Linux)")
    return (after - before) * 1e6 / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auth_echo", description=__doc__)
    parser.add_argument("--calls", type=int, default=6000, help="measured calls per round (default 6000)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant, alternating (default 3)")
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="eshop-auth-echo-") as directory:
        workdir = Path(directory)
        keys = ensure_dev_keys(workdir)
        token = mint_token(keys, subject="bench", audience="eshop-product")
        for _ in range(args.rounds):
            for variant in VARIANTS:
                cpu_us = _round(
                    variant,
                    jwks=keys.jwks_file,
                    token=token,
                    calls=args.calls,
                    concurrency=args.concurrency,
                    workdir=workdir,
                )
                results[variant].append(cpu_us)
                print(f"{variant:<9} {cpu_us:7.1f} us CPU/call")
    off = statistics.median(results["off"])
    for variant in VARIANTS:
        median = statistics.median(results[variant])
        print(f"median {variant:<9} {median:7.1f} us  ({median - off:+.1f} us against off)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
