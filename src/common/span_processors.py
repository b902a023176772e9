"""SDK span processors (loaded only when tracing exports): one place for "every span carries the
correlation id" — server, client, database and outbox spans alike."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from common import call_context

CORRELATION_ATTRIBUTE = "eshop.correlation_id"


class CorrelationIdSpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        cid = call_context.correlation_id()
        if cid is not None:
            span.set_attribute(CORRELATION_ATTRIBUTE, cid)

    def on_end(self, span: ReadableSpan) -> None:
        pass
