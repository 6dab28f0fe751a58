"""The rows a rebuild writes for one dossier, from its whole history at once. No I/O.

The same computation as ``projection.refresh`` after the dossier's last fact (the clock as of now, or as
of its latest fact when one is scheduled ahead), with the same column values (``clock_values``,
``step_values``, the timers with the events they will publish), as plain tuples in the column order of
``CLOCK_COLUMNS``, ``STEP_COLUMNS`` and ``TIMER_COLUMNS`` so they can be written in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.sla.attribution import overruns, responsible
from services.sla.clock import project
from services.sla.context import Sla
from services.sla.facts import Fact
from services.sla.projection import clock_values, live_instant, step_values
from services.sla.timers import timers

Row = tuple[Any, ...]

_CLOCK_COMPUTED = (
    "original_appointment_at",
    "appointment_at",
    "state",
    "open_exclusion",
    "ended_at",
    "outcome",
    "returned_at",
    "used_minutes",
    "paused_minutes",
    "current_unit_code",
    "current_unit_level",
    "reset_at",
    "apologies",
    "responsible_party",
    "responsible_unit_code",
    "responsible_level",
    "overruns",
)
CLOCK_COLUMNS = (
    "dossier_code",
    "procedure_code",
    "receiving_unit_code",
    "channel",
    "accepted_at",
    "started_at",
    *_CLOCK_COMPUTED,
    "version",
)
_STEP_COMPUTED = (
    "key",
    "name",
    "unit_level",
    "from_unit_code",
    "budget_minutes",
    "counts",
    "is_open",
    "paused",
    "accepted_at",
    "deadline_at",
    "ended_at",
    "ending",
    "result",
    "paused_minutes",
    "interconnection_minutes",
    "overrun_minutes",
    "interconnection_overrun_minutes",
)
STEP_COLUMNS = ("ref", "dossier_code", "step_id", "seq", "attempt", "unit_code", "assigned_at", *_STEP_COMPUTED)
TIMER_COLUMNS = ("dossier_code", "key", "kind", "due_at", "payload")
FACT_COLUMNS = ("id", "dossier_code", "event_id", "type", "occurred_at", "recorded_at", "payload")
INBOX_COLUMNS = ("consumer", "event_id", "event_type", "processed_at")


@dataclass
class Rows:
    """What a batch of dossiers writes."""

    clocks: list[Row] = field(default_factory=list)
    steps: list[Row] = field(default_factory=list)
    timers: list[Row] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clocks) + len(self.steps) + len(self.timers)


def dossier_rows(rows: Rows, code: str, facts: list[Fact], sla: Sla, now: datetime | None = None) -> bool:
    """Append the dossier's clock row, step rows and pending timers to ``rows``; False when it has no clock
    (not accepted), in which case nothing is appended — as ``refresh`` writes nothing then."""
    if not facts:
        return False
    clock = project(code, facts, sla.calendar, live_instant(facts, now), sla.outcome_by)
    if clock is None:
        return False
    items = overruns(clock)
    party = responsible(clock, items)
    computed = clock_values(clock, items, party)
    rows.clocks.append(
        (
            code,
            clock.procedure_code,
            clock.receiving_unit_code,
            clock.accepted.channel.value,
            clock.accepted_at,
            clock.started_at,
            *(computed[c] for c in _CLOCK_COMPUTED),
            1,
        )
    )
    for a in clock.attempts:
        values = step_values(a)
        rows.steps.append(
            (
                a.ref,
                code,
                a.step_id,
                a.seq,
                a.attempt,
                a.unit_code,
                a.assigned_at,
                *(values[c] for c in _STEP_COMPUTED),
            )
        )
    for t in timers(clock, sla.calendar, sla.policy):
        payload = t.payload.model_dump_json() if t.payload is not None else None
        rows.timers.append((code, t.key, t.kind, t.due_at, payload))
    return True
