"""Filing a dossier and accepting it: the catalogue says what is allowed, the calendar when it is due."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.intake.access import accepts_at_once, may_submit
from services.intake.appointment import appointment_for
from services.intake.commands import (
    Actor,
    change_status,
    contact_of,
    load,
    next_code,
    next_code_and_number,
    next_number,
    record,
    tracking_period,
)
from services.intake.domain import DossierStatus
from services.intake.lifecycle import Action
from services.intake.schemas import AcceptIn, DossierCreate
from services.intake.tables import Dossier
from shared.bus.unit_of_work import UnitOfWork
from shared.calendar import WorkingCalendar
from shared.events.dossier import (
    Channel,
    DossierAccepted,
    DossierSubmitted,
    ResultDelivery,
    StatutoryTime,
    TimeUnit,
)
from shared.web.auth import Principal
from shared.web.business_time import business_time
from shared.web.problems import Problem


class ProcedureRules(Protocol):
    """What filing needs to know of a procedure (the catalogue's Procedure satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def interconnected(self) -> bool: ...
    @property
    def statutory_time(self) -> StatutoryTime: ...
    @property
    def allowed_channels(self) -> frozenset[Channel]: ...
    @property
    def allowed_deliveries(self) -> frozenset[ResultDelivery]: ...


class Directory(Protocol):
    def procedure_rules(self, code: str, at: datetime) -> ProcedureRules | None: ...
    def unit_name(self, code: str, at: datetime) -> str | None: ...
    def receives(self, procedure_code: str, unit_code: str, at: datetime) -> bool: ...
    def communes_of(self, unit_code: str, at: datetime) -> frozenset[str]: ...


@dataclass(frozen=True)
class Filing:
    directory: Directory
    calendar: WorkingCalendar


def _field_error(field: str, reason: str) -> Problem:
    return Problem(422, "Invalid request", reason, errors=[{"source": "body", "field": field, "reason": reason}])


async def existing_code(session: AsyncSession, external_id: str, submitted_by: str | None = None) -> str | None:
    """The code of the dossier filed with ``external_id`` by that key (by any key when ``submitted_by`` is None)."""
    query = select(Dossier.code).where(col(Dossier.external_id) == external_id)
    if submitted_by is not None:
        query = query.where(col(Dossier.submitted_by) == submitted_by)
    return (await session.exec(query.order_by(col(Dossier.received_at)).limit(1))).first()


def already_filed(external_id: str, code: str) -> Problem:
    """409 for a second dossier with the same ``external_id``; ``existing_code`` names the first."""
    return Problem(
        409,
        "Already filed",
        f"A dossier with external_id {external_id!r} was already filed: {code}.",
        errors=[{"source": "body", "field": "external_id", "reason": f"already filed as {code}"}],
        existing_code=code,
    )


def commune_of(directory: Directory, body: DossierCreate, interconnected: bool, at: datetime) -> str | None:
    """The commune the dossier concerns. An interconnected route depends on it (which land office, which
    district), so a desk above the communes must name it; a commune's desk is its own commune."""
    area = directory.communes_of(body.receiving_unit_code, at)
    if body.commune_code is not None:
        if body.commune_code not in area:
            raise _field_error(
                "commune_code", f"{body.commune_code} is not a commune in the area of {body.receiving_unit_code}"
            )
        return body.commune_code
    if len(area) == 1:
        return next(iter(area))
    if interconnected:
        raise _field_error(
            "commune_code",
            "required: the commune the dossier concerns (where the land lies, where the applicant resides)",
        )
    return None


async def file_dossier(
    uow: UnitOfWork, filing: Filing, principal: Principal, body: DossierCreate, accept_now: bool | None = None
) -> Dossier:
    """A desk's dossier is accepted at once (status 2); a portal's waits for a desk (status 1).

    ``accept_now`` overrides that for an import: False leaves a desk's (or an import key's) dossier
    submitted, as a legacy history starting with "submit" says; True requires a key that may accept.
    """
    at = business_time(principal.has("import"), body.occurred_at)
    if not may_submit(principal, body.receiving_unit_code):
        raise Problem(403, "Forbidden", f"This API key may not file dossiers at unit {body.receiving_unit_code}.")
    desk = accepts_at_once(principal, body.receiving_unit_code)
    accepting = desk if accept_now is None else accept_now
    if accepting and not desk:
        raise Problem(403, "Forbidden", f"This API key may not accept dossiers at unit {body.receiving_unit_code}.")
    if body.external_id is not None and (code := await existing_code(uow.session, body.external_id, principal.key_id)):
        raise already_filed(body.external_id, code)
    rules = filing.directory.procedure_rules(body.procedure_code, at)
    if rules is None:
        raise _field_error("procedure_code", f"no procedure {body.procedure_code!r} in the catalogue at that date")
    unit_name = filing.directory.unit_name(body.receiving_unit_code, at)
    if unit_name is None:
        raise _field_error("receiving_unit_code", f"no unit {body.receiving_unit_code!r} at that date")
    if not filing.directory.receives(body.procedure_code, body.receiving_unit_code, at):
        raise _field_error("receiving_unit_code", f"unit {body.receiving_unit_code} does not receive this procedure")
    if body.channel not in rules.allowed_channels:
        allowed = ", ".join(sorted(c.value for c in rules.allowed_channels))
        raise _field_error("channel", f"this procedure is not received {body.channel.value}; allowed: {allowed}")
    if body.result_delivery not in rules.allowed_deliveries:
        allowed = ", ".join(sorted(d.value for d in rules.allowed_deliveries))
        raise _field_error(
            "result_delivery",
            f"this procedure does not return results {body.result_delivery.value}; allowed: {allowed}",
        )
    commune = commune_of(filing.directory, body, rules.interconnected, at)
    applicant = body.applicant
    statutory = rules.statutory_time
    if accepting:
        code, tracking_number = await next_code_and_number(uow, body.receiving_unit_code, at)
    else:
        code, tracking_number = await next_code(uow, body.receiving_unit_code, at), None
    dossier = Dossier(
        code=code,
        procedure_code=body.procedure_code,
        procedure_name=rules.name,
        receiving_unit_code=body.receiving_unit_code,
        receiving_unit_name=unit_name,
        channel=body.channel.value,
        status=DossierStatus.SUBMITTED.value,
        applicant_name=applicant.full_name,
        applicant_id_number=applicant.id_number,
        applicant_phone=applicant.phone,
        applicant_email=str(applicant.email) if applicant.email else None,
        applicant_address=applicant.address,
        notification_channels=(
            ",".join(c.value for c in applicant.notification_channels)
            if applicant.notification_channels is not None
            else None
        ),
        proxy=body.proxy.model_dump_json() if body.proxy else None,
        documents=json.dumps([d.model_dump() for d in body.documents], ensure_ascii=False),
        result_delivery=body.result_delivery.value,
        external_id=body.external_id,
        commune_code=commune,
        submitted_by=principal.key_id,
        received_at=at,
        statutory_amount=statutory.amount,
        statutory_unit=statutory.unit.value,
        interconnected=rules.interconnected,
        updated_at=at,
    )
    uow.session.add(dossier)
    actor = Actor(principal)
    if tracking_number is not None:
        _accept(uow, filing, dossier, actor, at, tracking_number)
    else:
        record(
            uow,
            dossier,
            actor,
            "dossier.submitted",
            DossierSubmitted(
                procedure_code=dossier.procedure_code,
                receiving_unit_code=dossier.receiving_unit_code,
                channel=body.channel,
                applicant=contact_of(dossier),
                result_delivery=body.result_delivery,
                submitted_at=at,
            ),
            at,
        )
    return dossier


async def accept(uow: UnitOfWork, filing: Filing, principal: Principal, code: str, body: AcceptIn) -> Dossier:
    at = business_time(principal.has("import"), body.occurred_at)
    dossier = await load(uow, code)
    change_status(dossier, principal, Action.ACCEPT, at)
    number = await next_number(uow, dossier.receiving_unit_code, tracking_period(at))
    _accept(uow, filing, dossier, Actor(principal), at, number, transitioned=True)
    return dossier


def _accept(
    uow: UnitOfWork,
    filing: Filing,
    dossier: Dossier,
    actor: Actor,
    at: datetime,
    tracking_number: int,
    transitioned: bool = False,
) -> None:
    if not transitioned:
        dossier.status = DossierStatus.ACCEPTED.value
    assert dossier.statutory_amount is not None and dossier.statutory_unit is not None
    statutory = StatutoryTime(amount=dossier.statutory_amount, unit=TimeUnit(dossier.statutory_unit))
    due = appointment_for(filing.calendar, at, statutory)
    dossier.accepted_at = at
    dossier.clock_starts_at = due.clock_starts_at
    dossier.appointment_at = due.due_at
    dossier.original_appointment_at = due.due_at
    dossier.tracking_number = tracking_number
    record(
        uow,
        dossier,
        actor,
        "dossier.accepted",
        DossierAccepted(
            procedure_code=dossier.procedure_code,
            receiving_unit_code=dossier.receiving_unit_code,
            channel=Channel(dossier.channel),
            applicant=contact_of(dossier),
            received_at=at,
            clock_starts_at=due.clock_starts_at,
            appointment_at=due.due_at,
            statutory=statutory,
            result_delivery=ResultDelivery(dossier.result_delivery),
            interconnected=dossier.interconnected,
            commune_code=dossier.commune_code,
        ),
        at,
    )
