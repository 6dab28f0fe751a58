"""The desk's and the citizen's actions on an existing dossier (all but filing and accepting it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from services.intake.commands import Actor, change_status, load, record
from services.intake.domain import DossierStatus
from services.intake.lifecycle import Action
from services.intake.schemas import (
    FinancialObligationIn,
    ItemsIn,
    PaymentIn,
    ReasonIn,
    ReturnIn,
    SupplementsIn,
)
from services.intake.tables import Dossier
from shared.bus.unit_of_work import UnitOfWork
from shared.events.dossier import (
    DossierPaid,
    DossierRefused,
    DossierStopped,
    DossierSupplemented,
    DossierWithdrawn,
    FinancialObligationSet,
    ResultDelivery,
    ResultReturned,
    SupplementRequested,
)
from shared.web.auth import Principal
from shared.web.business_time import business_time


async def _act(
    uow: UnitOfWork,
    principal: Principal,
    code: str,
    action: Action,
    occurred_at: datetime | None,
    event_type: str,
    payload: BaseModel,
    reason: str | None = None,
) -> Dossier:
    at = business_time(principal.has("import"), occurred_at)
    dossier = await load(uow, code)
    was = DossierStatus(dossier.status)
    change_status(dossier, principal, action, at)
    if reason is not None:
        dossier.status_reason = reason
    if isinstance(payload, SupplementRequested):
        payload = payload.model_copy(update={"before_acceptance": was is DossierStatus.SUBMITTED})
    record(uow, dossier, Actor(principal), event_type, payload, at)
    return dossier


async def refuse(uow: UnitOfWork, principal: Principal, code: str, body: ReasonIn) -> Dossier:
    return await _act(
        uow,
        principal,
        code,
        Action.REFUSE,
        body.occurred_at,
        "dossier.refused",
        DossierRefused(reason=body.reason),
        body.reason,
    )


async def request_supplement(uow: UnitOfWork, principal: Principal, code: str, body: ItemsIn) -> Dossier:
    return await _act(
        uow,
        principal,
        code,
        Action.REQUEST_SUPPLEMENT,
        body.occurred_at,
        "dossier.supplement_requested",
        SupplementRequested(items=body.items, reason=body.reason),
        body.reason,
    )


async def supplement(uow: UnitOfWork, principal: Principal, code: str, body: SupplementsIn) -> Dossier:
    return await _act(
        uow,
        principal,
        code,
        Action.SUPPLEMENT,
        body.occurred_at,
        "dossier.supplemented",
        DossierSupplemented(items=body.items),
    )


async def set_financial_obligation(
    uow: UnitOfWork, principal: Principal, code: str, body: FinancialObligationIn
) -> Dossier:
    payload = FinancialObligationSet(items=body.items, amount_vnd=body.amount_vnd, reason=body.reason)
    return await _act(
        uow,
        principal,
        code,
        Action.SET_FINANCIAL_OBLIGATION,
        body.occurred_at,
        "dossier.financial_obligation_set",
        payload,
        body.reason or None,
    )


async def pay(uow: UnitOfWork, principal: Principal, code: str, body: PaymentIn) -> Dossier:
    return await _act(
        uow,
        principal,
        code,
        Action.PAY,
        body.occurred_at,
        "dossier.paid",
        DossierPaid(receipt_reference=body.receipt_reference),
    )


async def withdraw(uow: UnitOfWork, principal: Principal, code: str, body: ReasonIn) -> Dossier:
    return await _act(
        uow,
        principal,
        code,
        Action.WITHDRAW,
        body.occurred_at,
        "dossier.withdrawn",
        DossierWithdrawn(reason=body.reason),
        body.reason,
    )


async def stop(uow: UnitOfWork, principal: Principal, code: str, body: ReasonIn) -> Dossier:
    return await _act(
        uow,
        principal,
        code,
        Action.STOP,
        body.occurred_at,
        "dossier.stopped",
        DossierStopped(reason=body.reason),
        body.reason,
    )


async def return_result(uow: UnitOfWork, principal: Principal, code: str, body: ReturnIn) -> Dossier:
    dossier = await load(uow, code)
    delivery = body.delivery or ResultDelivery(dossier.result_delivery)
    return await _act(
        uow,
        principal,
        code,
        Action.RETURN_RESULT,
        body.occurred_at,
        "dossier.result_returned",
        ResultReturned(delivery=delivery, note=body.note),
    )
