"""Intake's business counter: dossiers filed, by receiving unit, channel and status (the ops team's
"received today by channel")."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import Counter

from shared.events.envelope import Envelope

DOSSIERS_FILED = Counter(
    "lienthong_intake_dossiers_total",
    "Dossiers filed: submitted online and waiting for a desk, or accepted (received, the clock starts).",
    ["unit", "channel", "status"],
)
_COUNTED = {"dossier.submitted": "submitted", "dossier.accepted": "accepted"}
# An imported or back-dated filing was received on its own day, not now: counting it would swell today's panel.
_BACK_DATED = timedelta(hours=1)


def count_filings(envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        status = _COUNTED.get(envelope.type)
        if status is None or envelope.recorded_at - envelope.occurred_at > _BACK_DATED:
            continue
        payload = envelope.payload
        DOSSIERS_FILED.labels(payload["receiving_unit_code"], payload["channel"], status).inc()
