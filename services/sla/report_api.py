"""GET /v1/reports/quarterly: the period report as JSON, CSV or XLSX."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.sla.clock import DossierClock, project
from services.sla.context import Sla, sla_of
from services.sla.documents import Report, UnitFigures
from services.sla.periods import report_window
from services.sla.projection import load_histories
from services.sla.report import build_report
from services.sla.report_export import report_csv, report_xlsx
from services.sla.tables import DossierClockRow
from shared.web.auth import CurrentPrincipal, Principal, require_any
from shared.web.deps import SessionDep
from shared.web.instants import Instant
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["reports"])
CanRead = require_any("read", prefixes=("unit:", "desk:"))
CHUNK = 500
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UnitFiguresPublic(BaseModel):
    unit_code: str
    unit_name: str
    carried_over: int
    received_in_person: int
    received_online: int
    received_postal: int
    received: int
    resolved_early: int
    resolved_on_time: int
    resolved_late: int
    resolved: int
    returned: int
    withdrawn: int
    stopped: int
    in_progress_on_time: int
    in_progress_overdue: int
    paused: int
    late_by_level: dict[str, int] = Field(description="Resolved late or overdue, by the responsible level.")
    late_by_unit: dict[str, int]
    apologies_issued: int

    @classmethod
    def of(cls, f: UnitFigures) -> UnitFiguresPublic:
        return cls(**vars(f), received=f.received, resolved=f.resolved)


class ReportPublic(BaseModel):
    period: str | None
    window: str
    outcome_by: str
    from_at: datetime
    to_at: datetime
    as_of: datetime
    units: list[UnitFiguresPublic]
    total: UnitFiguresPublic


async def clocks_between(
    session: AsyncSession, sla: Sla, start: datetime, end: datetime, unit: str | None
) -> list[DossierClock]:
    """Every dossier the window can count, as it stood at ``end``: accepted before ``end`` and not finished
    (nor its result returned) before ``start``."""
    query = select(DossierClockRow.dossier_code).where(
        col(DossierClockRow.accepted_at) < end,
        or_(
            col(DossierClockRow.ended_at).is_(None),
            col(DossierClockRow.ended_at) >= start,
            col(DossierClockRow.returned_at) >= start,
        ),
    )
    if unit is not None:
        query = query.where(col(DossierClockRow.receiving_unit_code) == unit)
    codes = list((await session.exec(query)).all())
    histories = await load_histories(session, codes, until=end)
    clocks: list[DossierClock] = []
    for code in codes:
        clock = project(code, histories[code], sla.calendar, end, sla.outcome_by)
        if clock is not None:
            clocks.append(clock)
    return clocks


def _visible_unit(principal: Principal, unit: str | None) -> str | None:
    """``read`` sees every unit; a unit's or desk's key its own line."""
    if principal.has("read"):
        return unit
    own = principal.units("unit") | principal.units("desk")
    if unit is None and len(own) == 1:
        return next(iter(own))
    if unit is None or unit not in own:
        raise Problem(403, "Forbidden", "This API key may read the report of its own unit only: give unit=<code>.")
    return unit


def _format(fmt: str | None, request: Request) -> str:
    if fmt is not None:
        return fmt
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if XLSX in accept:
        return "xlsx"
    return "json"


@router.get(
    "/reports/quarterly",
    response_model=ReportPublic,
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "JSON, CSV (UTF-8 with BOM) or XLSX"},
        401: {"description": "No or unknown API key"},
        422: {"description": "A bad period, window or instant"},
    },
    dependencies=[CanRead],
    summary="The period report per receiving unit: received, resolved, in progress, late by responsible level",
    description="Give `period` (e.g. `2026Q1`; the window is the calendar quarter or, by configuration, the 15th "
    "of the previous quarter's last month to the 14th of this one's) or `from` and `to`. `as_of` reads the "
    "figures as they stood at an instant (default: now, or the window's end when it has passed). `unit` keeps "
    "one receiving unit. `format` (or Accept) chooses JSON, CSV or XLSX.",
)
async def quarterly(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    period: Annotated[str | None, Query(max_length=20, examples=["2026Q1"])] = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Annotated[Instant | None, Query()] = None,
    as_of: Annotated[Instant | None, Query()] = None,
    unit: Annotated[str | None, Query(max_length=40)] = None,
    format: Annotated[Literal["json", "csv", "xlsx"] | None, Query()] = None,
) -> Any:
    sla = sla_of(request)
    unit = _visible_unit(principal, unit)
    if period is not None:
        if from_ is not None or to is not None:
            raise Problem(422, "Period or window", "Give either period or from and to, not both.")
        try:
            start, end = report_window(period, sla.quarter_window)
        except ValueError as exc:
            raise Problem(422, "Invalid period", str(exc)) from None
    else:
        s, e = from_, to
        if s is None or e is None:
            raise Problem(422, "Period or window", "Give period (e.g. 2026Q1), or both from and to.")
        if e <= s:
            raise Problem(422, "Empty window", "to must be after from.")
        start, end = s, e
    at = as_of or datetime.now(UTC)
    clocks = await clocks_between(session, sla, start, min(end, at), unit)
    report = build_report(
        clocks,
        start,
        end,
        at,
        period=period.upper().replace("-", "") if period else None,
        window=sla.quarter_window if period else "custom",
        outcome_by=sla.outcome_by,
        unit_name=sla.unit_name,
    )
    return _answer(report, _format(format, request))


def _answer(report: Report, fmt: str) -> Any:
    name = f"bao-cao-{report.period or report.from_at.date().isoformat()}"
    if fmt == "csv":
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            report_xlsx(report), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'}
        )
    return ReportPublic(
        period=report.period,
        window=report.window,
        outcome_by=report.outcome_by,
        from_at=report.from_at,
        to_at=report.to_at,
        as_of=report.as_of,
        units=[UnitFiguresPublic.of(u) for u in report.units],
        total=UnitFiguresPublic.of(report.total),
    )
