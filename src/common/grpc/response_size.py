"""What a response may weigh on the wire: every answer fits what a default gRPC client accepts.

A default client refuses a response above 4 MiB (grpc's ``max_receive_message_length``) with
RESOURCE_EXHAUSTED, however valid the request was. List pages therefore stop at a byte budget safely
under it (AIP-158 allows a short page: fewer items and a ``next_page_token``); the rest of the
response (the token, framing) fits in the difference.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

CLIENT_RECEIVE_LIMIT_BYTES = 4 * 1024 * 1024
RESPONSE_BUDGET_BYTES = 3 * 1024 * 1024


def entry_bytes(message: Message) -> int:
    """Bytes ``message`` takes as an entry of a repeated field numbered below 16 (tag, length, body)."""
    size = message.ByteSize()
    return 1 + _varint_bytes(size) + size


def fitting(messages: Sequence[Message], budget: int = RESPONSE_BUDGET_BYTES) -> int:
    """How many leading ``messages`` fit ``budget`` as repeated entries; at least one, so that a page
    always makes progress (a single item is far below the budget: the request limits see to that)."""
    used = 0
    for count, message in enumerate(messages):
        used += entry_bytes(message)
        if used > budget:
            return max(count, 1)
    return len(messages)


def _varint_bytes(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)
