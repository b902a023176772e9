"""What the databases say was committed, to hold what the broker delivered against it: the event
outbox rows of both services (an event row exists if and only if its change committed, so the ids
delivered must be exactly these), in ``seq`` order (each subject's commit order)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import NullPool, create_engine, text

from tests.support.event_tap import Received


@dataclass(frozen=True)
class Row:
    seq: int
    event_id: str
    event_type: str
    subject: str
    published: bool


def rows(database_url: str) -> list[Row]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT seq, event_id, event_type, subject, published_at IS NOT NULL "
                    "FROM event_outbox ORDER BY seq"
                )
            )
            return [Row(int(r[0]), r[1], r[2], r[3], bool(r[4])) for r in found]
    finally:
        engine.dispose()


def scalar(database_url: str, query: str) -> object:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar()
    finally:
        engine.dispose()


def wait_all_published(database_urls: Iterable[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    urls = list(database_urls)
    while True:
        waiting = sum(1 for url in urls for row in rows(url) if not row.published)
        if waiting == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{waiting} events still unpublished after {timeout_s} s")
        time.sleep(0.2)


def first_deliveries(received: Sequence[Received]) -> list[Received]:
    """Each event once, at its first delivery (consumers skip an id seen)."""
    seen: set[str] = set()
    firsts = []
    for message in received:
        if message.message_id not in seen:
            seen.add(message.message_id)
            firsts.append(message)
    return firsts


def assert_delivered_exactly_what_committed(
    received: Sequence[Received], database_urls: Iterable[str]
) -> None:
    """Every committed event delivered (at least once), none that did not commit, and each subject's
    events first delivered in commit order."""
    committed = [row for url in database_urls for row in rows(url)]
    firsts = first_deliveries(received)
    delivered_ids = {m.message_id for m in firsts}
    committed_ids = {row.event_id for row in committed}
    assert delivered_ids - committed_ids == set(), "delivered events that no committed change wrote"
    assert committed_ids - delivered_ids == set(), "committed events never delivered"
    expected: dict[str, list[str]] = defaultdict(list)
    for row in sorted(committed, key=lambda r: r.seq):
        expected[row.subject].append(row.event_id)
    delivered: dict[str, list[str]] = defaultdict(list)
    for message in firsts:
        delivered[message.subject].append(message.message_id)
    out_of_order = [subject for subject in expected if delivered[subject] != expected[subject]]
    assert out_of_order == [], f"{len(out_of_order)} subjects' events delivered out of commit order"
