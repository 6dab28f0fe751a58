"""Intake's command handlers: each changes dossiers and emits their events in one unit of work."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from services.intake.domain import DossierStatus, dossier_code, sequence_day
from services.intake.schemas import DossierCreate
from services.intake.tables import Dossier
from shared.bus.unit_of_work import UnitOfWork
from shared.events import new_envelope
from shared.events.dossier import Contact, DossierAccepted

PRODUCER = "intake"

_NEXT_SEQUENCE = text(
    "INSERT INTO dossier_sequence (unit_code, day, last_value) VALUES (:unit, :day, 1) "
    "ON CONFLICT (unit_code, day) DO UPDATE SET last_value = dossier_sequence.last_value + 1 "
    "RETURNING last_value"
)


async def next_code(uow: UnitOfWork, unit_code: str, at: datetime) -> str:
    """The next code of the unit's daily sequence; gap-free because it rolls back with the dossier."""
    result = await uow.session.execute(_NEXT_SEQUENCE, {"unit": unit_code, "day": sequence_day(at)})
    return dossier_code(unit_code, at, int(result.scalar_one()))


async def accept_dossier(uow: UnitOfWork, body: DossierCreate, now: datetime | None = None) -> Dossier:
    received_at = now or datetime.now(UTC)
    code = await next_code(uow, body.receiving_unit_code, received_at)
    dossier = Dossier(
        code=code,
        procedure_code=body.procedure_code,
        receiving_unit_code=body.receiving_unit_code,
        channel=body.channel.value,
        status=DossierStatus.ACCEPTED.value,
        applicant_name=body.applicant.full_name,
        applicant_phone=body.applicant.phone,
        applicant_email=str(body.applicant.email) if body.applicant.email else None,
        received_at=received_at,
    )
    uow.session.add(dossier)
    uow.emit(
        new_envelope(
            type="dossier.accepted",
            dossier_code=code,
            producer=PRODUCER,
            occurred_at=received_at,
            payload=DossierAccepted(
                procedure_code=dossier.procedure_code,
                receiving_unit_code=dossier.receiving_unit_code,
                channel=body.channel,
                applicant=Contact(
                    full_name=dossier.applicant_name,
                    phone=dossier.applicant_phone,
                    email=dossier.applicant_email,
                ),
                received_at=received_at,
            ),
        )
    )
    return dossier
