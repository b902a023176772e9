"""``eshop up``: both services as child processes in the foreground, a demo catalogue, a clean stop."""

from __future__ import annotations

import argparse
import os
import signal
import site
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import grpc

import common
from common import configuration
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.redaction import redacted
from eshop_cli import arguments, exit_codes, health, session, up_auth
from eshop_cli.dev_token import DEV_KEYS_DIRECTORY
from eshop_cli.output import info, report_failure
from eshop_cli.products import products_table
from eshop_cli.seed import seed_if_empty

EVENTS_BROKER_VARIABLES = ("ORDER_EVENTS_BROKER_URL", "PRODUCT_EVENTS_BROKER_URL")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_INTERVAL_S = 0.2
# Where the databases, the dev key and the service token live; its files are the user's only.
STATE_DIRECTORY = DEV_KEYS_DIRECTORY
PRIVATE_UMASK = 0o077


@dataclass
class Child:
    name: str
    target: str
    database_url: str
    process: subprocess.Popen[bytes]


def add_command(subparsers: Any) -> None:
    up = subparsers.add_parser(
        "up", help="run both services in the foreground with a demo catalogue (Ctrl-C stops them)"
    )
    up.add_argument(
        "--startup-timeout",
        type=arguments.positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long both services may take to report SERVING (default 30)",
    )
    up.add_argument(
        "--stop-timeout",
        type=arguments.positive_seconds,
        default=15.0,
        metavar="SECONDS",
        help="how long each service may take to stop after SIGTERM before it is killed",
    )
    up.add_argument("--no-seed", action="store_true", help="do not create the demo catalogue")
    up.add_argument(
        "--auth",
        action="store_true",
        help="require authentication on both services, trusting a dev key made under ./.eshop/ "
        "(then `eshop dev-token` mints tokens)",
    )
    up.add_argument(
        "--events-broker",
        metavar="URL",
        help="publish integration events to this RabbitMQ (amqp://user:password@host:5672/): sets "
        "ORDER_EVENTS_BROKER_URL and PRODUCT_EVENTS_BROKER_URL for both services (default: those "
        "variables; unset, no events); `eshop events watch` prints them",
    )
    up.set_defaults(handler=run_up)


def run_up(args: argparse.Namespace, client: session.Session) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            info(f"eshop up: received {signal.Signals(signum).name}, stopping the services")
        stop.set()

    _make_private(STATE_DIRECTORY)
    auth = up_auth.prepare(STATE_DIRECTORY) if args.auth else None
    if auth is not None:
        os.environ.update(auth.env())  # checked below and inherited by both children
    if args.events_broker is not None:
        os.environ.update({v: args.events_broker for v in EVENTS_BROKER_VARIABLES})
    try:
        _check_configuration()
    except configuration.ConfigurationError as error:
        configuration.report(error)
        return exit_codes.CONFIGURATION
    busy = _busy_address()
    if busy is not None:
        info(f"eshop up: something already answers on {busy} (another `eshop up`?); stop it first")
        return exit_codes.FAILED
    previous = {signum: signal.signal(signum, on_signal) for signum in SIGNALS}
    children: list[Child] = []
    try:
        children.append(_spawn("product", session.product_address(), "sqlite:///.eshop/product.db"))
        children.append(_spawn("order", session.order_address(), "sqlite:///.eshop/order.db"))
        failure = _wait_until_serving(children, stop, args.startup_timeout)
        if failure is not None or stop.is_set():
            return exit_codes.OK if failure is None else failure
        if not args.no_seed:
            try:
                # With auth required by hand-set variables, the seed needs the caller's own token.
                token = auth.seed_token() if auth is not None else client.token
                seeded, products = seed_if_empty(children[0].target, session.DEFAULT_TIMEOUT_S, token)
            except grpc.RpcError as error:
                info("eshop up: could not seed the demo catalogue")
                report_failure(session.CallFailed(error, children[0].target, "eshop-up-seed"))
                return exit_codes.FAILED
            _print_ready(children, seeded, products, auth is not None)
        else:
            _print_ready(children, False, None, auth is not None)
        return _supervise(children, stop, auth)
    finally:
        _stop_all(children, args.stop_timeout)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _make_private(directory: Path) -> None:
    """``./.eshop/`` readable by its owner only (0700), also when an earlier version left it 0755: it
    holds the databases, the dev signing key and the Order service's token."""
    directory.mkdir(mode=0o700, exist_ok=True)
    directory.chmod(0o700)


def _check_configuration() -> None:
    """What the children would refuse, said once before either starts (the variables they will read)."""
    from common.settings import LogSettings
    from order.settings import OrderSettings  # imported when called, as in serve.py
    from product.settings import ProductSettings

    configuration.load(LogSettings, ProductSettings, OrderSettings)


def _busy_address() -> str | None:
    """An address a service already answers on: our health checks would mistake it for our child."""
    targets = (session.product_address(), session.order_address())
    return next((t for t in targets if health.check(t, 1.0) != health.UNREACHABLE), None)


def _spawn(name: str, target: str, default_database_url: str) -> Child:
    env = _child_env()
    database_url = env.get(f"{name.upper()}_DATABASE_URL") or default_database_url
    command = [sys.executable, "-c", "from eshop_cli.main import main; main()", name, "serve"]
    # A session of its own: a Ctrl-C at the terminal reaches only us, and we stop the services in order.
    # Umask 077: the databases they create (and SQLite's -wal and -shm files) are their user's only.
    process = subprocess.Popen(command, env=env, start_new_session=True, umask=PRIVATE_UMASK)
    return Child(name, target, redacted(database_url), process)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ORDER_PRODUCT_SERVICE_TARGET", session.product_address())
    # The children import `common` the way we did, also when it comes from PYTHONPATH or a source tree.
    root = str(Path(common.__file__ or ".").resolve().parent.parent)
    installed = {str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _dead(children: list[Child]) -> Child | None:
    return next((child for child in children if child.process.poll() is not None), None)


def _wait_until_serving(children: list[Child], stop: threading.Event, timeout_s: float) -> int | None:
    """None once every child reports SERVING (or a stop was asked for), else the exit code to leave with."""
    deadline = time.monotonic() + timeout_s
    statuses: dict[str, str] = {}
    while not stop.is_set():
        dead = _dead(children)
        if dead is not None:
            if dead.process.returncode == configuration.EXIT_STATUS:
                return exit_codes.CONFIGURATION  # it said which variable, on the stderr we share
            info(
                f"eshop up: the {dead.name} service exited with code {dead.process.returncode} while starting"
            )
            return exit_codes.FAILED
        statuses = {
            child.name: health.check(child.target, 1.0, service=health.READINESS[child.name])
            for child in children
        }
        if all(status == health.SERVING for status in statuses.values()):
            return None
        if time.monotonic() > deadline:
            summary = ", ".join(f"{name} {status}" for name, status in statuses.items())
            info(f"eshop up: services not SERVING after {timeout_s:g} s ({summary})")
            return exit_codes.FAILED
        stop.wait(POLL_INTERVAL_S)
    return None


def _metrics_url(service: str) -> str:
    """Where the child serves Prometheus metrics: its variable as the child reads it, or the default."""
    from order.settings import OrderSettings  # imported when called, as in serve.py
    from product.settings import ProductSettings

    defaults = {
        "product": ProductSettings.model_fields["metrics_address"].default,
        "order": OrderSettings.model_fields["metrics_address"].default,
    }
    default = str(defaults[service])
    address = os.environ.get(f"{service.upper()}_METRICS_ADDRESS", default)
    if not address:
        return "off"
    if address.endswith(":0"):
        return "on a port chosen at start (the service's start-up line names it)"
    # A wildcard bind (0.0.0.0, [::]) is reached on loopback from here.
    return f"http://{session.connectable(address)}/metrics"


def _events_destination(service: str) -> str:
    url = os.environ.get(f"{service.upper()}_EVENTS_BROKER_URL", "")
    if not url:
        return "off (--events-broker URL publishes them)"
    exchange = os.environ.get(f"{service.upper()}_EVENTS_EXCHANGE") or "eshop.events"
    return f"exchange {exchange} at {redacted(url)} (eshop events watch prints them)"


def _print_ready(children: list[Child], seeded: bool, products: list[pb.Product] | None, auth: bool) -> None:
    lines = ["eshop is up (Ctrl-C stops both services)"]
    if auth:
        lines.append(
            f"  authentication required; tokens are signed with the dev key under ./{DEV_KEYS_DIRECTORY}/"
        )
    lines += [f"  {c.name:<8} service  {c.target:<22} database {c.database_url}" for c in children]
    lines += [f"  {c.name:<8} metrics  {_metrics_url(c.name)}" for c in children]
    lines += [f"  {c.name:<8} events   {_events_destination(c.name)}" for c in children]
    if products is not None:
        lines.append("")
        lines.append(
            f"seeded {len(products)} demo products:"
            if seeded
            else "catalogue already has products (not seeded again):"
        )
        lines.append(products_table(products))
        if products:
            address = children[1].target
            override = "" if address == session.DEFAULT_ORDER_ADDRESS else f" --order-address {address}"
            lines += ["", "try:"]
            if auth:
                customer = uuid.uuid4()
                lines.append(
                    f"  export ESHOP_TOKEN=$(eshop dev-token --sub {customer})   # a customer's token"
                )
            lines.append(f"  eshop orders create --item {products[0].product_id}:2{override}")
    if auth and not products:
        lines += ["", "mint a customer token:", "  export ESHOP_TOKEN=$(eshop dev-token --sub CUSTOMER_UUID)"]
    print("\n".join(lines), flush=True)


def _supervise(children: list[Child], stop: threading.Event, auth: up_auth.UpAuth | None) -> int:
    while not stop.wait(POLL_INTERVAL_S):
        if auth is not None:
            auth.refresh_service_token()
        dead = _dead(children)
        if dead is not None:
            info(f"eshop up: the {dead.name} service exited with code {dead.process.returncode}; stopping")
            return exit_codes.FAILED
    return exit_codes.OK


def _stop_all(children: list[Child], timeout_s: float) -> None:
    """Order first (it calls Product while it drains), then Product: SIGTERM, wait, then kill."""
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
        try:
            child.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            info(f"eshop up: the {child.name} service did not stop within {timeout_s:g} s; killing it")
            child.process.kill()
            child.process.wait()
    if children:
        info("eshop up: stopped")
