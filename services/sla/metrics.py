"""What the district operations team watches, labelled by unit code and level (never by dossier)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.sla.tables import DossierClockRow, StepClockRow
from shared.calendar import WorkingCalendar

DOSSIERS_IN_PROGRESS = Gauge(
    "lienthong_sla_dossiers_in_progress", "Dossiers whose clock has not ended.", ["unit", "state"]
)
DOSSIERS_OVERDUE = Gauge("lienthong_sla_dossiers_overdue", "Running dossiers past their appointment.", ["unit"])
STEPS_OPEN = Gauge("lienthong_sla_steps_open", "Open steps held by the unit.", ["unit", "level"])
STEPS_OVERDUE = Gauge("lienthong_sla_steps_overdue", "Running steps past their deadline.", ["unit", "level"])
STEPS_DUE_SOON = Gauge(
    "lienthong_sla_steps_due_soon", "Running steps within their notice window (1 working day).", ["unit", "level"]
)
DOSSIERS_FINISHED = Counter(
    "lienthong_sla_dossiers_finished_total",
    "Dossiers resolved, by outcome and the responsible party's level ('none' when not late).",
    ["unit", "outcome", "responsible_level"],
)
STEP_WORKING_MINUTES = Histogram(
    "lienthong_sla_step_working_minutes",
    "Working minutes a finished step took (paused time excluded).",
    ["unit", "level"],
    buckets=(30, 60, 120, 240, 480, 960, 1440, 2400, 3840, 4800, 9600),
)
STEP_BUDGET_SHARE = Histogram(
    "lienthong_sla_step_budget_share",
    "A finished step's working time over its budget (1 = exactly on budget).",
    ["level"],
    buckets=(0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2, 3, 5),
)
APOLOGIES = Counter("lienthong_sla_apologies_total", "Apologies required, by the responsible level.", ["unit", "level"])
HANDOVERS_UNACKNOWLEDGED = Counter(
    "lienthong_sla_handovers_unacknowledged_total",
    "Handovers an external system did not acknowledge in time.",
    ["unit"],
)
TIMERS_FIRED = Counter("lienthong_sla_timers_fired_total", "Warnings, overdue flags and apologies fired.", ["kind"])
SWEEP_SECONDS = Histogram(
    "lienthong_sla_sweep_seconds",
    "One sweep of the due timers.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


async def refresh_gauges(session: AsyncSession, calendar: WorkingCalendar, notice_minutes: int) -> None:
    """Recount the gauges from the clock rows (one grouped query each)."""
    now = datetime.now(UTC)
    soon = calendar.add_working_minutes(now, notice_minutes)
    in_progress = (
        await session.exec(
            select(DossierClockRow.receiving_unit_code, DossierClockRow.state, func.count())
            .where(col(DossierClockRow.ended_at).is_(None))
            .group_by(col(DossierClockRow.receiving_unit_code), col(DossierClockRow.state))
        )
    ).all()
    overdue = (
        await session.exec(
            select(DossierClockRow.receiving_unit_code, func.count())
            .where(col(DossierClockRow.state) == "running", col(DossierClockRow.appointment_at) < now)
            .group_by(col(DossierClockRow.receiving_unit_code))
        )
    ).all()
    steps = select(StepClockRow.unit_code, StepClockRow.unit_level, func.count()).where(
        col(StepClockRow.is_open).is_(True)
    )
    by_unit = (col(StepClockRow.unit_code), col(StepClockRow.unit_level))
    open_steps = (await session.exec(steps.group_by(*by_unit))).all()
    running = steps.where(col(StepClockRow.paused).is_(False))
    late_steps = (await session.exec(running.where(col(StepClockRow.deadline_at) < now).group_by(*by_unit))).all()
    soon_steps = (
        await session.exec(
            running.where(col(StepClockRow.deadline_at) >= now, col(StepClockRow.deadline_at) <= soon).group_by(
                *by_unit
            )
        )
    ).all()
    for gauge in (DOSSIERS_IN_PROGRESS, DOSSIERS_OVERDUE, STEPS_OPEN, STEPS_OVERDUE, STEPS_DUE_SOON):
        gauge.clear()
    for unit, state, n in in_progress:
        DOSSIERS_IN_PROGRESS.labels(unit, state).set(n)
    for unit, n in overdue:
        DOSSIERS_OVERDUE.labels(unit).set(n)
    for gauge, rows in ((STEPS_OPEN, open_steps), (STEPS_OVERDUE, late_steps), (STEPS_DUE_SOON, soon_steps)):
        for unit, level, n in rows:
            gauge.labels(unit, level or "unknown").set(n)
