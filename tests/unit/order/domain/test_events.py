"""Which change of an order raises which event: confirm, reject, cancel; a repeated cancel nothing."""

from __future__ import annotations

from uuid import uuid4

import pytest

from order.domain.events import OrderCancelled, OrderConfirmed, OrderRejected
from order.domain.model import Order, OrderLine
from tests.support.clock import T0


def placed() -> Order:
    return Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), T0, None)


def test_placing_raises_nothing_and_each_resolution_its_event() -> None:
    assert placed().events == ()
    assert placed().confirm((), T0).events == (OrderConfirmed(),)
    assert placed().reject("no stock", (), T0).events == (OrderRejected(),)
    assert placed().cancel("changed my mind", T0).events == (OrderCancelled(),)
    assert placed().confirm((), T0).cancel("later", T0).events == (OrderConfirmed(), OrderCancelled())


def test_cancelling_a_cancelled_order_raises_nothing_more() -> None:
    cancelled = placed().cancel("once", T0)
    assert cancelled.cancel("twice", T0).events == (OrderCancelled(),)


def test_a_refused_change_raises_nothing() -> None:
    rejected = placed().reject("no stock", (), T0)
    with pytest.raises(Exception, match="cannot be cancelled"):
        rejected.cancel("too late", T0)
    with pytest.raises(ValueError):
        rejected.confirm((), T0)
