"""Intake's event handlers: what routing and sla tell it, so its view of a dossier stays current."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel

from services.intake.commands import change_status, record
from services.intake.domain import DossierStatus
from services.intake.lifecycle import Action, IllegalTransition, transition
from services.intake.tables import Dossier, TimelineEntry
from shared.bus.handlers import Handlers, PermanentError
from shared.bus.unit_of_work import UnitOfWork
from shared.events import Envelope
from shared.events.clock import AppointmentChanged
from shared.events.delivery import PostalKind, PostalOrderUpdate
from shared.events.dossier import FinancialObligationSet, ResultDelivery, ResultReturned, SupplementRequested
from shared.events.step import (
    DossierResolved,
    RoutePlanned,
    StepAssigned,
    StepFinancialObligationSet,
    StepSupplementRequested,
)

handlers = Handlers()
log = logging.getLogger(__name__)


async def _dossier(uow: UnitOfWork, code: str) -> Dossier:
    dossier = await uow.session.get(Dossier, code)
    if dossier is None:
        raise PermanentError(f"intake has no dossier {code!r}")
    return dossier


def _timeline(uow: UnitOfWork, dossier: Dossier, event: Envelope, actor: str, detail: dict[str, Any]) -> None:
    uow.session.add(
        TimelineEntry(
            dossier_code=dossier.code,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            type=event.type,
            status=dossier.status,
            actor=actor,
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )


@handlers.on("route.planned")
async def processing_started(uow: UnitOfWork, event: Envelope, planned: RoutePlanned) -> None:
    dossier = await _dossier(uow, event.dossier_code)
    if DossierStatus(dossier.status) is DossierStatus.ACCEPTED:
        change_status(dossier, None, Action.START_PROCESSING, event.occurred_at)
    elif dossier.paused_from == DossierStatus.ACCEPTED.value:
        # The desk paused the dossier before routing took it up: it resumes in progress.
        dossier.paused_from = DossierStatus.IN_PROGRESS.value
    _timeline(uow, dossier, event, "routing", {"steps": len(planned.steps)})


@handlers.on("step.assigned")
async def handed_over(uow: UnitOfWork, event: Envelope, assigned: StepAssigned) -> None:
    """Kept on the timeline so the citizen's tracking page shows where the dossier is."""
    dossier = await _dossier(uow, event.dossier_code)
    detail: dict[str, Any] = {"seq": assigned.seq, "to_unit_code": assigned.to_unit_code}
    if assigned.from_unit_code:
        detail["from_unit_code"] = assigned.from_unit_code
    _timeline(uow, dossier, event, "routing", detail)


@handlers.on("dossier.resolved")
async def result_ready(uow: UnitOfWork, event: Envelope, resolved: DossierResolved) -> None:
    """Status 9. A dossier the citizen withdrew (or the desk stopped) while its last step was finishing
    keeps its status: the race is recorded on the timeline, not dead-lettered, because nothing is wrong
    with the message."""
    dossier = await _dossier(uow, event.dossier_code)
    detail: dict[str, Any] = {"unit": resolved.resolving_unit_code, "outcome": resolved.outcome}
    current = DossierStatus(dossier.status)
    try:
        transition(current, Action.RESOLVE)
    except IllegalTransition as exc:
        log.warning("dossier %s: resolution ignored: %s", dossier.code, exc)
        detail["ignored"] = str(exc)
    else:
        change_status(dossier, None, Action.RESOLVE, event.occurred_at)
    if resolved.note:
        detail["note"] = resolved.note
    _timeline(uow, dossier, event, "routing", detail)


@handlers.on("dossier.appointment_changed")
async def appointment_moved(uow: UnitOfWork, event: Envelope, changed: AppointmentChanged) -> None:
    dossier = await _dossier(uow, event.dossier_code)
    dossier.appointment_at = changed.appointment_at
    dossier.updated_at = event.occurred_at
    detail: dict[str, Any] = {
        "change": changed.change.value,
        "appointment_at": changed.appointment_at.isoformat(),
        "previous_appointment_at": changed.previous_appointment_at.isoformat(),
    }
    if changed.reason:
        detail["reason"] = changed.reason
    _timeline(uow, dossier, event, "sla", detail)


async def _pause_for(uow: UnitOfWork, event: Envelope, action: Action, type_: str, payload: BaseModel) -> None:
    """A processing unit asked the citizen for something: the dossier pauses as if the desk had asked, and
    the same dossier event tells sla (clock) and notify (citizen). A dossier already paused or closed keeps
    its status; the request is kept on the timeline."""
    dossier = await _dossier(uow, event.dossier_code)
    try:
        transition(DossierStatus(dossier.status), action, None)
    except IllegalTransition as exc:
        log.warning("dossier %s: %s from routing not applied: %s", dossier.code, type_, exc)
        _timeline(uow, dossier, event, "routing", {"ignored": str(exc)})
        return
    change_status(dossier, None, action, event.occurred_at)
    record(uow, dossier, None, type_, payload, event.occurred_at)


@handlers.on("step.supplement_requested")
async def unit_requests_supplement(uow: UnitOfWork, event: Envelope, asked: StepSupplementRequested) -> None:
    payload = SupplementRequested(items=asked.items, reason=asked.reason, requested_by_unit_code=asked.unit_code)
    await _pause_for(uow, event, Action.REQUEST_SUPPLEMENT, "dossier.supplement_requested", payload)


@handlers.on("step.financial_obligation_set")
async def unit_sets_financial_obligation(uow: UnitOfWork, event: Envelope, notice: StepFinancialObligationSet) -> None:
    payload = FinancialObligationSet(
        items=notice.items, amount_vnd=notice.amount_vnd, reason=notice.reason, requested_by_unit_code=notice.unit_code
    )
    await _pause_for(uow, event, Action.SET_FINANCIAL_OBLIGATION, "dossier.financial_obligation_set", payload)


async def _postal(uow: UnitOfWork, event: Envelope, update: PostalOrderUpdate) -> Dossier:
    dossier = await _dossier(uow, event.dossier_code)
    detail: dict[str, Any] = {"kind": update.kind.value, "tracking_number": update.tracking_number}
    if update.note:
        detail["note"] = update.note
    _timeline(uow, dossier, event, "notify", detail)
    return dossier


async def postal_update(uow: UnitOfWork, event: Envelope, update: PostalOrderUpdate) -> None:
    """The post's progress, kept on the timeline (the citizen's tracking page reads it)."""
    await _postal(uow, event, update)


for _type in ("postal.pickup_requested", "postal.picked_up", "postal.delivery_requested", "postal.failed"):
    handlers.on(_type)(postal_update)


@handlers.on("postal.delivered")
async def postal_delivered(uow: UnitOfWork, event: Envelope, update: PostalOrderUpdate) -> None:
    """The post handed the result to the citizen: the result is returned (status 10)."""
    dossier = await _postal(uow, event, update)
    if update.kind is not PostalKind.DELIVERY:
        return
    try:
        transition(DossierStatus(dossier.status), Action.RETURN_RESULT, None)
    except IllegalTransition as exc:
        log.warning("dossier %s: postal delivery not recorded as the return: %s", dossier.code, exc)
        return
    change_status(dossier, None, Action.RETURN_RESULT, update.at)
    note = f"Bưu chính đã phát kết quả, mã vận đơn {update.tracking_number}"
    record(
        uow,
        dossier,
        None,
        "dossier.result_returned",
        ResultReturned(delivery=ResultDelivery.POSTAL, note=note),
        update.at,
    )
