"""W3C trace context carried from the outbox row, through Kafka headers, into the consumer's span."""

from __future__ import annotations

import json
from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.context import Context

tracer = trace.get_tracer("lienthong.bus")


def current_trace_headers() -> dict[str, str]:
    """The caller's trace context, as stored on an outbox row when the event is written."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def encode_headers(headers: dict[str, str]) -> str:
    return json.dumps(headers, separators=(",", ":"), sort_keys=True)


def kafka_headers(stored: str) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in json.loads(stored).items()]


def headers_dict(raw: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw or ():
        try:
            out[key] = value.decode() if value is not None else ""
        except UnicodeDecodeError:
            out[key] = value.hex()
    return out


def context_from_headers(headers: dict[str, str]) -> Context:
    return propagate.extract(headers)
