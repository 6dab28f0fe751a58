"""Routes, steps and handovers as the API shows them (times in Vietnam's time, +07:00)."""

from __future__ import annotations

from datetime import datetime
from typing import overload

from services.routing.context import Routing
from services.routing.domain import RESULT_LABELS_VI, interconnection_minutes, time_left
from services.routing.lifecycle import StepStatus, allowed_actions
from services.routing.schemas import (
    FailureReport,
    HandoverRow,
    HandoverSlip,
    InboxItem,
    RoutePublic,
    StepPublic,
)
from services.routing.tables import Handover, Route, Step
from shared.calendar import VIETNAM_TZ
from shared.events.step import StepResult

ACTION_PATHS = {
    "accept": "accept",
    "complete": "complete",
    "send_back": "send-back",
    "request_supplement": "request-supplement",
    "set_financial_obligation": "financial-obligation",
    "report_failure": "report-failure",
}


@overload
def local(at: datetime) -> datetime: ...
@overload
def local(at: None) -> None: ...
def local(at: datetime | None) -> datetime | None:
    return at.astimezone(VIETNAM_TZ) if at is not None else None


def step_public(step: Step, routing: Routing, now: datetime) -> StepPublic:
    status = StepStatus(step.status)
    left = (
        time_left(routing.calendar, now, step.deadline_at, step.paused_at)
        if status in (StepStatus.ASSIGNED, StepStatus.ACCEPTED, StepStatus.PAUSED)
        else None
    )
    base = f"/v1/steps/{step.id}"
    actions = [a.value for a in allowed_actions(status)]
    links = {"self": base, "route": f"/v1/dossiers/{step.dossier_code}/route"}
    links.update({a: f"{base}/{ACTION_PATHS[a]}" for a in actions})
    return StepPublic(
        step_id=step.id,
        dossier_code=step.dossier_code,
        seq=step.seq,
        key=step.key,
        name=step.name,
        unit_code=step.unit_code,
        unit_name=routing.unit_name(step.unit_code),
        unit_level=step.unit_level,
        budget_minutes=step.budget_minutes,
        counts=step.counts,
        external=step.external,
        status=status.value,
        attempt=step.attempt,
        assigned_at=local(step.assigned_at),
        accepted_at=local(step.accepted_at),
        deadline_at=local(step.deadline_at),
        paused_at=local(step.paused_at),
        pause_kind=step.pause_kind,
        finished_at=local(step.finished_at),
        outcome=step.outcome,
        note=step.note,
        time_left_minutes=left.minutes if left else None,
        time_left_hours=left.hours if left else None,
        overdue=left.overdue if left else False,
        allowed_actions=actions,
        links=links,
    )


def inbox_item(step: Step, route: Route, routing: Routing, now: datetime) -> InboxItem:
    return InboxItem(
        **step_public(step, routing, now).model_dump(),
        procedure_code=route.procedure_code,
        procedure_name=route.procedure_name,
    )


def route_public(route: Route, steps: list[Step], routing: Routing, now: datetime) -> RoutePublic:
    return RoutePublic(
        dossier_code=route.dossier_code,
        procedure_code=route.procedure_code,
        procedure_name=route.procedure_name,
        receiving_unit_code=route.receiving_unit_code,
        map=route.unit_map,
        route_version=route.route_version,
        status=route.status,
        planned_at=local(route.planned_at),
        closed_at=local(route.closed_at),
        outcome=route.outcome,
        steps=[step_public(s, routing, now) for s in steps],
    )


def _interconnection(h: Handover, routing: Routing, now: datetime) -> int | None:
    if h.external_system is None:
        return None
    return interconnection_minutes(
        routing.calendar,
        h.handed_over_at,
        now,
        acknowledged_at=h.acknowledged_at,
        accepted_at=h.accepted_at,
        finished_at=h.finished_at,
    )


def handover_row(h: Handover, routing: Routing, now: datetime) -> HandoverRow:
    result = StepResult(h.result) if h.result else None
    waited = _interconnection(h, routing, now)
    own = (
        max(
            0,
            routing.calendar.working_minutes_between(h.handed_over_at, h.finished_at)
            - h.paused_minutes
            - (waited or 0),
        )
        if h.finished_at is not None
        else None
    )
    failure = (
        FailureReport(
            reported_at=local(h.failure_reported_at), reported_by=h.failure_reported_by, reason=h.failure_reason
        )
        if h.failure_reported_at is not None
        else None
    )
    return HandoverRow(
        n=h.n,
        step_id=h.step_id,
        seq=h.seq,
        step_key=h.step_key,
        step_name=h.step_name,
        attempt=h.attempt,
        kind=h.kind,
        handing_over_unit_code=h.from_unit_code,
        handing_over_unit_name=routing.unit_name(h.from_unit_code),
        handing_over_unit_level=h.from_unit_level,
        receiving_unit_code=h.to_unit_code,
        receiving_unit_name=routing.unit_name(h.to_unit_code),
        receiving_unit_level=h.to_unit_level,
        handed_over_at=local(h.handed_over_at),
        accepted_at=local(h.accepted_at),
        deadline_at=local(h.deadline_at),
        finished_at=local(h.finished_at),
        ended=h.ended,
        outcome=h.outcome,
        result=result.value if result else None,
        result_label=RESULT_LABELS_VI[result] if result else None,
        paused_minutes=h.paused_minutes,
        reason=h.reason,
        note=h.note,
        failure=failure,
        external_system=h.external_system,
        acknowledged_at=local(h.acknowledged_at),
        external_reference=h.external_reference,
        interconnection_minutes=waited,
        unit_minutes=own,
    )


def handover_slip(route: Route, rows: list[Handover], routing: Routing, now: datetime) -> HandoverSlip:
    return HandoverSlip(
        dossier_code=route.dossier_code,
        procedure_code=route.procedure_code,
        procedure_name=route.procedure_name,
        map=route.unit_map,
        route_version=route.route_version,
        rows=[handover_row(h, routing, now) for h in rows],
    )
