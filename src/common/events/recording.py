"""Writing what the aggregates of a transaction raised to the event outbox, in that transaction.

A unit of work collects the events its repositories' aggregates raised and, at commit, hands them to
an ``EventRecorder``: each is encoded by the service (the aggregate as it is right after the change,
serialized as the contract's message), stamped with a fresh id (the ``message_id`` of every delivery),
and added to the outbox before the commit, so an event exists if and only if its change committed.
With no broker configured the unit of work has no recorder and writes nothing: nothing is published,
and nothing grows.

The correlation id and trace context an event carries are read here, at commit, from the context
(``common.call_context``, ``common.telemetry``), not passed in an ``Origin`` as a release's are: the
aggregates raise events without knowing the call. Inside a call they are the call's; in background
work, what that work bound (the reconciler's ``reconcile:<order id>``); with neither, a fresh id, so
the contract's ``correlation_id`` is never empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from common import call_context, correlation, telemetry
from common.clock import Clock, utcnow
from common.events.outbox import EncodedEvent, EventOutbox

# (aggregate as stored, event it raised) -> the event as published.
Encoder = Callable[[Any, Any], EncodedEvent]


class EventRecorder:
    def __init__(
        self, encode: Encoder, written: Callable[[], None] = lambda: None, clock: Clock = utcnow
    ) -> None:
        """``written``: called once a commit that wrote events is done (wakes the publisher)."""
        self._encode = encode
        self.written = written
        self._clock = clock

    def record(self, outbox: EventOutbox, raised: Iterable[tuple[Any, Any]]) -> int:
        """Add each raised event to ``outbox`` (in the caller's transaction); how many."""
        count = 0
        now = self._clock()
        for aggregate, event in raised:
            if count == 0:
                # The call's ids, read once: background work (the reconciler) has its own bound.
                cid = call_context.correlation_id() or correlation.new_id()
                trace_context = telemetry.current_trace_context()
            outbox.add(self._encode(aggregate, event), uuid.uuid4(), cid, trace_context, now)
            count += 1
        return count


def recorder_if_configured(
    broker_url: str, encode: Encoder, wakeup: Callable[[], None]
) -> EventRecorder | None:
    """The units of work's recorder: None with no broker configured (no event is written). Each commit
    that wrote events calls ``wakeup`` (the publishing worker's)."""
    if not broker_url:
        return None
    return EventRecorder(encode, written=wakeup)
