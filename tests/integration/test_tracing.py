"""One trace from the request that wrote the outbox row, through Kafka headers, into the handler's span."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.support.bus import BusHarness, eventually, sequenced

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.clear()


async def test_the_handler_span_continues_the_trace_of_the_request(
    bus: BusHarness, spans: InMemorySpanExporter
) -> None:
    bus.start_relay()
    bus.start_consumer()
    tracer = trace.get_tracer("tests")
    event = sequenced("H56.14-261122-0777", 1)
    with tracer.start_as_current_span("POST /v1/dossiers", kind=SpanKind.SERVER) as request_span:
        await bus.stage(event)
    request = request_span.get_span_context()

    async def handled() -> bool:
        return any(s.name == "test.sequenced process" for s in spans.get_finished_spans())

    await eventually(handled, 30, "the handler's span")
    handler = next(s for s in spans.get_finished_spans() if s.name == "test.sequenced process")
    assert handler.context is not None and handler.parent is not None
    assert handler.context.trace_id == request.trace_id
    assert handler.parent.span_id == request.span_id
    assert handler.kind is SpanKind.CONSUMER
    assert handler.attributes is not None
    assert handler.attributes["messaging.message.id"] == str(event.event_id)
    assert handler.attributes["lienthong.result"] == "handled"
