"""Seeded, realistic dossier histories as intake and routing publish them, for sla's rebuild test and bench.

Each dossier: accepted (an appointment of 5–15 working days), its route planned (2–4 steps, a quarter of
routes with a step that does not count, e.g. the tax authority's assessment), each step assigned and taken
in hand, then completed — mostly within its budget, some late; some handovers to an external system are
unacknowledged or fail and are acknowledged later; some dossiers wait for a supplement or a payment; a few
steps are sent back and done again; most are resolved and their result returned, some withdrawn, some
still in progress. About 12 events a dossier. The same seed gives the same events, ids included.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from shared.calendar import WorkingCalendar
from shared.events.dossier import ResultDelivery, ResultReturned
from shared.events.registry import event_type
from tests.support.sla_history import History, PlanStep, vn

UNITS = (
    PlanStep("H56.101", "commune", 240, name="Tiếp nhận, kiểm tra hồ sơ"),
    PlanStep("H56.10", "district", 960, name="Thẩm định hồ sơ"),
    PlanStep("H56.10.3", "land_office", 1440, name="Đo đạc, cập nhật biến động"),
    PlanStep("H56.10", "district", 480, name="Phê duyệt kết quả"),
)
TAX = PlanStep("H56.T1", "tax", 960, counts=False, name="Xác định nghĩa vụ tài chính")


@dataclass(frozen=True)
class Event:
    """One event as it travels: its topic (logical name), key and value."""

    topic: str
    key: bytes | None
    value: bytes
    type: str


class _Seeded(History):
    rng: random.Random = random.Random(0)

    def new_step_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def code_of(n: int, start: datetime) -> str:
    return f"H56.{101 + n % 7}-{start:%y%m%d}-{n:07d}"


def history(n: int, rng: random.Random, calendar: WorkingCalendar, first_day: datetime, days: int) -> History:
    """Dossier ``n``'s facts, in business order."""
    day = calendar.add_working_days(first_day, rng.randrange(days)) if days else first_day
    at = calendar.add_working_minutes(day, rng.randrange(0, 420))
    h = _Seeded(code=code_of(n, day))
    h.rng = rng
    budget_days = rng.choice((5, 7, 10, 15))
    h.accepted(at, calendar.add_working_days(at, budget_days), days=budget_days)
    steps = [UNITS[0], *rng.sample(UNITS[1:3], rng.randint(1, 2)), UNITS[3]]
    if rng.random() < 0.25:
        steps.insert(len(steps) - 1, TAX)
    h.planned(at, *steps)
    fate = rng.random()
    stop_after = rng.randrange(len(steps)) if fate > 0.85 else len(steps)  # still in progress or withdrawn
    seq, now = _steps(h, rng, calendar, steps, at, stop_after)
    if seq > len(steps):
        h.resolved(now, steps[-1].unit_code)
        if rng.random() < 0.7:
            returned = ResultReturned(delivery=ResultDelivery.DESK)
            h.add("dossier.result_returned", calendar.add_working_minutes(now, rng.randrange(30, 960)), returned)
    elif fate > 0.97:
        h.withdrawn(calendar.add_working_minutes(now, 30))
    return h


def _steps(
    h: History, rng: random.Random, calendar: WorkingCalendar, steps: list[PlanStep], now: datetime, stop_after: int
) -> tuple[int, datetime]:
    """The route's steps until the last or ``stop_after``: the next step's number and the instant reached."""
    seq = 1
    sent_back = False
    while seq <= len(steps):
        step = steps[seq - 1]
        h.assigned(seq, now, seq - 1 if seq > 1 else None)
        assigned_at = now
        if step.level == "land_office" and rng.random() < 0.3:  # the land software's handover
            now = _handover(h, rng, calendar, seq, now)
        now = calendar.add_working_minutes(now, rng.randrange(5, 60))
        h.step_accepted(seq, now)
        if seq > stop_after:
            break
        if seq == 2 and rng.random() < 0.15:
            now = calendar.add_working_minutes(now, rng.randrange(30, 240))
            h.supplement(now, step.unit_code)
            now = calendar.add_working_minutes(now, rng.randrange(240, 2400))
            h.supplemented(now)
        if step is TAX:
            h.obligation(now)
            now = calendar.add_working_minutes(now, rng.randrange(60, 1440))
            h.paid(now)
        share = rng.uniform(0.2, 0.9) if rng.random() < 0.85 else rng.uniform(1.05, 2.0)  # some late
        now = calendar.add_working_minutes(now, max(1, int(step.budget_minutes * share)))
        if seq == 3 and not sent_back and rng.random() < 0.05:
            h.sent_back(seq, seq - 1, now)
            sent_back = True
            seq -= 1
            continue
        h.completed(seq, now, assigned_at)
        seq += 1
    return seq, now


def _handover(h: History, rng: random.Random, calendar: WorkingCalendar, seq: int, at: datetime) -> datetime:
    late = calendar.add_working_minutes(at, rng.randrange(30, 600))
    if rng.random() < 0.5:
        h.unacknowledged(seq, at, calendar.add_working_minutes(at, 120))
        h.acknowledged(seq, at, late)
    else:
        h.failed(seq, at, late)
    return late


def histories(count: int, seed: int, calendar: WorkingCalendar, first_day: datetime, days: int) -> Iterator[History]:
    rng = random.Random(seed)
    for n in range(count):
        yield history(n, rng, calendar, first_day, days)


def envelopes(h: History, rng: random.Random, recorded_at: datetime) -> Iterator[Event]:
    """The dossier's events as the outbox relay publishes them (one envelope each, keyed by its code)."""
    stamp = recorded_at.isoformat()
    key = h.code.encode()
    for fact in h.facts:
        spec = event_type(fact.type)
        value = json.dumps(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "type": fact.type,
                "version": spec.version,
                "occurred_at": fact.occurred_at.isoformat(),
                "recorded_at": stamp,
                "dossier_code": h.code,
                "producer": spec.topic.producer,
                "payload": fact.payload.model_dump(mode="json"),
            },
            ensure_ascii=False,
        ).encode()
        yield Event(spec.topic.name, key, value, fact.type)


FUTURE = vn(2027, 3, 1, 7)
"""Histories dated ahead of the clock: a clock is computed as of the dossier's latest fact, so the normal
consumer and a rebuild agree whatever the time they run at."""
