"""``eshop events watch``: print the integration events as they arrive, for people (``--json``: one
object per line, for scripts). An exclusive queue of its own, bound to the events exchange for the
types asked (every type by default), gone when the command ends: it sees what is published while it
runs, nothing before."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from common.generated.eshop.order.v1 import events_pb2 as order_events
from common.generated.eshop.order.v1 import order_pb2
from common.generated.eshop.product.v1 import events_pb2 as product_events
from common.redaction import redacted
from common.settings import ServerSettings
from eshop_cli import exit_codes
from eshop_cli.output import info

DEFAULT_EXCHANGE = ServerSettings.model_fields["events_exchange"].default
BROKER_VARIABLES = ("ORDER_EVENTS_BROKER_URL", "PRODUCT_EVENTS_BROKER_URL")
EXCHANGE_VARIABLES = ("ORDER_EVENTS_EXCHANGE", "PRODUCT_EVENTS_EXCHANGE")
# Every message type either service publishes, by its full name (the routing key and AMQP type).
MESSAGES: dict[str, type[Message]] = {
    f"{module.DESCRIPTOR.package}.{name}": getattr(module, name)
    for module in (order_events, product_events)
    for name in module.DESCRIPTOR.message_types_by_name
}


def _add_json(parser: argparse.ArgumentParser) -> None:
    # Unset unless given here: ``eshop --json events watch`` keeps the global option's value.
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="one JSON object per line (for scripts)",
    )


def add_command(subparsers: Any) -> None:
    events = subparsers.add_parser("events", help="integration events published to RabbitMQ")
    _add_json(events)
    commands = events.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    watch = commands.add_parser(
        "watch",
        help="print events as they arrive (Ctrl-C stops)",
        description="Bind an exclusive queue to the events exchange and print each event as it arrives.",
    )
    watch.add_argument(
        "--broker",
        metavar="URL",
        default=next((os.environ[v] for v in BROKER_VARIABLES if os.environ.get(v)), None),
        help="RabbitMQ URL, amqp://user:password@host:5672/ (default: ORDER_EVENTS_BROKER_URL, "
        "else PRODUCT_EVENTS_BROKER_URL)",
    )
    watch.add_argument(
        "--exchange",
        metavar="NAME",
        default=next((os.environ[v] for v in EXCHANGE_VARIABLES if os.environ.get(v)), DEFAULT_EXCHANGE),
        help=f"the events exchange (default: ORDER_EVENTS_EXCHANGE or {DEFAULT_EXCHANGE})",
    )
    watch.add_argument(
        "--type",
        dest="types",
        action="extend",
        nargs="+",
        metavar="T",
        type=_event_type,
        help="only these types, by full or short name (eshop.order.v1.OrderConfirmed, OrderConfirmed): "
        "--type A B, or --type A --type B; default: every type",
    )
    _add_json(watch)
    watch.add_argument(
        "--limit", type=int, metavar="N", default=0, help="stop after N events (default: run until Ctrl-C)"
    )
    watch.set_defaults(handler=run_watch, parser=watch)


def _event_type(value: str) -> str:
    if value in MESSAGES:
        return value
    by_short = [name for name in MESSAGES if name.rsplit(".", 1)[-1] == value]
    if len(by_short) == 1:
        return by_short[0]
    raise argparse.ArgumentTypeError(f"unknown event type {value!r}; one of: {', '.join(MESSAGES)}")


def run_watch(args: argparse.Namespace, _client: object) -> int:
    if not args.broker:
        args.parser.error("no broker: give --broker URL or set ORDER_EVENTS_BROKER_URL")
    if not args.broker.startswith(("amqp://", "amqps://")):
        args.parser.error(f"--broker {args.broker!r}: must be an amqp:// or amqps:// URL")
    try:
        return asyncio.run(_watch(args))
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED


async def _watch(args: argparse.Namespace) -> int:
    import aio_pika  # only this command needs it: the other commands start faster without

    # aiormq logs its connection failures itself; the one line below says it for a person.
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    try:
        connection = await aio_pika.connect(args.broker, timeout=10)
    except Exception as error:  # the broker is down, refuses, or the URL leads nowhere
        reason = str(error) or type(error).__name__
        info(f"eshop events watch: cannot reach the broker {redacted(args.broker)}: {reason}")
        return exit_codes.UNAVAILABLE
    async with connection:
        channel = await connection.channel()
        # The services declare it with these arguments too: whoever comes first makes it.
        exchange = await channel.declare_exchange(args.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        for routing_key in args.types or ["#"]:
            await queue.bind(exchange, routing_key)
        info(
            f"watching {', '.join(args.types or ['every event'])} on exchange {args.exchange} "
            f"at {redacted(args.broker)} (Ctrl-C stops)"
        )
        seen = 0
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    print(_render(message, args.json), flush=True)
                seen += 1
                if args.limit and seen >= args.limit:
                    break
    return exit_codes.OK


def _render(message: Any, as_json: bool) -> str:
    headers = dict(message.headers or {})
    event_type = message.type or message.routing_key or ""
    decoded = _decode(event_type, message.body)
    if as_json:
        record = {
            "type": event_type,
            "id": message.message_id,
            "source": headers.get("cloudEvents:source"),
            "subject": headers.get("cloudEvents:subject"),
            "time": headers.get("cloudEvents:time"),
            "correlation_id": message.correlation_id,
            "traceparent": headers.get("traceparent"),
            "data": None if decoded is None else MessageToDict(decoded),
        }
        return json.dumps(record, sort_keys=True)
    when, subject = headers.get("cloudEvents:time", ""), headers.get("cloudEvents:subject", "")
    return f"{when}  {event_type.rsplit('.', 1)[-1]:<15} {subject}  {_summary(decoded)}"


def _decode(event_type: str, body: bytes) -> Message | None:
    kind = MESSAGES.get(event_type)
    if kind is None:
        return None  # a type this version does not know: printed without its payload
    return kind.FromString(body)


def _summary(message: Message | None) -> str:
    if message is None:
        return "(unknown type)"
    if isinstance(
        message, order_events.OrderConfirmed | order_events.OrderRejected | order_events.OrderCancelled
    ):
        order = message.order
        name = order_pb2.OrderStatus.Name(order.status).rsplit("_", 1)[-1]  # CONFIRMED, ...
        reason = f", {order.status_reason}" if order.status_reason else ""
        return f"{name} total {order.total_amount}, {len(order.items)} item(s){reason}"
    product = message.product  # type: ignore[attr-defined]
    parts = [f"{product.name!r} stock {product.stock_quantity} (threshold {product.low_stock_threshold})"]
    parts.append(f"price {product.price}, etag {product.etag}")
    if product.HasField("delete_time"):
        parts.append("deleted")
    mask = getattr(message, "update_mask", None)
    if mask is not None and mask.paths:
        parts.append("changed " + ",".join(mask.paths))
    return "; ".join(parts)
