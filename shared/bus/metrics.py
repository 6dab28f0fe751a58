"""Prometheus metrics of the bus, labelled by topic and consumer group (never by dossier)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTBOX_BACKLOG = Gauge("lienthong_outbox_backlog", "Outbox rows not yet published.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "lienthong_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row.", ["service"]
)
OUTBOX_PUBLISHED = Counter("lienthong_outbox_published_total", "Outbox rows published.", ["service", "topic"])
OUTBOX_PUBLISH_ERRORS = Counter(
    "lienthong_outbox_publish_errors_total", "Failed attempts to publish outbox rows.", ["service"]
)
EVENTS_CONSUMED = Counter("lienthong_events_consumed_total", "Messages read from the broker.", ["consumer", "topic"])
EVENTS_PROCESSED = Counter(
    "lienthong_events_processed_total",
    "Messages whose effect was committed (result: handled, duplicate, ignored).",
    ["consumer", "topic", "result"],
)
EVENTS_FAILED = Counter(
    "lienthong_events_failed_total", "Handler attempts that raised.", ["consumer", "topic", "error"]
)
EVENTS_DEAD_LETTERED = Counter(
    "lienthong_events_dead_lettered_total", "Messages sent to the dead-letter topic.", ["consumer", "topic"]
)
DEAD_LETTERS_PENDING = Gauge(
    "lienthong_dead_letters_pending", "Dead letters recorded and not yet replayed.", ["consumer"]
)
CONSUMER_LAG = Gauge(
    "lienthong_consumer_lag",
    "Messages behind the partition's high watermark.",
    ["consumer", "topic", "partition"],
)
CONSUMER_LAST_POLL = Gauge(
    "lienthong_consumer_last_poll_timestamp_seconds",
    "When the consumer last asked the broker for messages (it does at least every half second while it runs); "
    "a consumer that stopped polling leaves its lag series frozen, so this is how a stall shows.",
    ["consumer"],
)
HANDLER_DURATION = Histogram(
    "lienthong_handler_duration_seconds",
    "Time to process one message, database commit included.",
    ["consumer", "event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_RESTARTS = Counter(
    "lienthong_consumer_restarts_total",
    "Times a consumer left its group after an unexpected error and joined again.",
    ["consumer", "error"],
)
CONSUMER_RUN_SIZE = Histogram(
    "lienthong_consumer_run_messages",
    "Messages applied together in one database transaction of a consumer.",
    ["consumer"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
