"""Commands and queries of the Order service, with their validation rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from common import validation as check
from common.auth.principal import Principal
from common.call_context import Origin
from common.mediator import Command, Query
from order.application.results import OrderPage
from order.domain.model import Order

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class CreateOrder(Command[Order]):
    customer_id: str
    items: Sequence[Line] = field(default_factory=tuple)
    request_id: str = ""
    caller: Principal | None = None  # who asks (None: authentication is off)
    # The call it comes from: the order keeps its trace, a release queued for it its correlation id too.
    origin: Origin = field(default_factory=Origin.new)

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "customer_id", self.customer_id)
        check.check_lines(v, "items", self.items)
        check.check_uuid(v, "request_id", self.request_id, required=False)
        v.raise_if_any()


@dataclass(frozen=True)
class CancelOrder(Command[Order]):
    order_id: str
    reason: str = ""
    caller: Principal | None = None
    origin: Origin = field(default_factory=Origin.new)  # the release it queues keeps it

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "order_id", self.order_id)
        check.check_text(v, "reason", self.reason, max_length=MAX_REASON_LENGTH, required=False)
        v.raise_if_any()


@dataclass(frozen=True)
class GetOrder(Query[Order]):
    order_id: str
    caller: Principal | None = None

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "order_id", self.order_id)
        v.raise_if_any()


@dataclass(frozen=True)
class ListOrders(Query[OrderPage]):
    customer_id: str = ""
    page_size: int = 0
    page_token: str = ""
    caller: Principal | None = None

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "customer_id", self.customer_id, required=False)
        check.check_non_negative(v, "page_size", self.page_size)
        v.raise_if_any()
