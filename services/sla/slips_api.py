"""The process control slip, the apology slip, and the one reset of a dossier's appointment."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from services.sla.api import has_history
from services.sla.clock import DossierClock
from services.sla.context import Sla, sla_of
from services.sla.documents import ApologySlip, ControlSlip
from services.sla.metrics import APOLOGIES
from services.sla.projection import clock_of, record_decision, refresh
from services.sla.slip_pdf import apology_slip_pdf, control_slip_pdf
from services.sla.slips import apology_slip, control_slip, latest_apology
from services.sla.timers import apology_issued, proposed_appointment
from shared.bus.unit_of_work import UnitOfWork
from shared.events.clock import ApologyRequired, AppointmentChange, AppointmentChanged
from shared.web.auth import CurrentPrincipal, Principal, require_any
from shared.web.business_time import business_time
from shared.web.deps import SessionDep, UnitsDep
from shared.web.idempotency import Idempotency, Outcome
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["slips"])
CanRead = require_any("read", prefixes=("unit:", "desk:"))
Format = Annotated[Literal["json", "pdf"] | None, Query(description="Default: by Accept; JSON unless it asks PDF.")]
DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "application/pdf": {}}},
    404: {"description": "Not found"},
}


def _wants_pdf(fmt: str | None, request: Request) -> bool:
    return fmt == "pdf" or (fmt is None and "application/pdf" in request.headers.get("accept", ""))


def _procedure_name(sla: Sla, code: str) -> str:
    try:
        return sla.catalog.procedure(code).name
    except KeyError:
        return code


def _document(slip: ControlSlip | ApologySlip, pdf: bytes | None, filename: str) -> Response:
    if pdf is None:
        return JSONResponse(jsonable_encoder(asdict(slip)))
    headers = {"Content-Disposition": f'inline; filename="{filename}"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


async def _clock(session: Any, sla: Sla, code: str) -> DossierClock:
    clock = await clock_of(session, sla, code, None) if await has_history(session, code) else None
    if clock is None:
        raise Problem(404, "Clock not found", f"No clock for dossier {code!r}.")
    return clock


@router.get(
    "/dossiers/{code}/control-slip",
    responses=DOCUMENT,
    dependencies=[CanRead],
    summary="The process control slip: one row per handover, early / on time / late",
)
async def get_control_slip(code: str, request: Request, session: SessionDep, format: Format = None) -> Response:
    sla = sla_of(request)
    clock = await _clock(session, sla, code)
    slip = control_slip(clock, _procedure_name(sla, clock.procedure_code), sla.unit_name)
    pdf = control_slip_pdf(slip) if _wants_pdf(format, request) else None
    return _document(slip, pdf, f"phieu-kiem-soat-{code}.pdf")


@router.get(
    "/dossiers/{code}/apology",
    responses=DOCUMENT,
    dependencies=[CanRead],
    summary="The apology and new appointment slip, once the dossier needs one",
)
async def get_apology(code: str, request: Request, session: SessionDep, format: Format = None) -> Response:
    sla = sla_of(request)
    clock = await _clock(session, sla, code)
    apology = latest_apology(clock)
    if apology is None:
        raise Problem(404, "No apology", f"Dossier {code} has not needed an apology.")
    slip = apology_slip(clock, apology, _procedure_name(sla, clock.procedure_code), sla.unit_name)
    pdf = apology_slip_pdf(slip) if _wants_pdf(format, request) else None
    return _document(slip, pdf, f"phieu-xin-loi-{code}.pdf")


class ResetIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, description="Why the dossier is late (shown to the citizen).")
    new_appointment_at: AwareDatetime | None = Field(
        default=None, description="Default: the appointment proposed from the remaining steps' budgets."
    )
    occurred_at: AwareDatetime | None = Field(default=None, description="Only with the import scope.")


class ResetPublic(BaseModel):
    dossier_code: str
    appointment_at: datetime
    previous_appointment_at: datetime
    reset_at: datetime


def _may_reset(principal: Principal, clock: DossierClock) -> bool:
    unit = clock.receiving_unit_code
    return principal.has(f"desk:{unit}") or principal.has(f"unit:{unit}") or principal.has("import")


@router.post(
    "/dossiers/{code}/appointment-reset",
    response_model=ResetPublic,
    responses={
        403: {"description": "Not the receiving desk's key"},
        404: {"description": "No clock for this dossier"},
        409: {"description": "Already reset once, or the dossier has ended"},
        422: {"description": "A new appointment not after the current one"},
    },
    summary="Set the new appointment after an apology (once per dossier)",
    description="The receiving desk sets the new appointment (default: the one proposed from the remaining "
    "steps' budgets) and the reason; the apology is recorded if none was yet, intake and the citizen are told "
    "(`dossier.appointment_changed`, change `reset`). The law allows one reset: a second one is refused.",
)
async def reset_appointment(
    code: str, body: ResetIn, request: Request, units: UnitsDep, principal: CurrentPrincipal, idem: Idempotency
) -> Response:
    sla = sla_of(request)

    async def command(uow: UnitOfWork) -> Outcome:
        at = business_time(principal.has("import"), body.occurred_at)
        clock = await clock_of(uow.session, sla, code, at)
        if clock is None:
            raise Problem(404, "Clock not found", f"No clock for dossier {code!r}.")
        if not _may_reset(principal, clock):
            raise Problem(403, "Forbidden", f"Only the desk of {clock.receiving_unit_code} may reset the appointment.")
        if clock.ending is not None:
            raise Problem(409, "Dossier ended", f"Dossier {code} was {clock.ending}; its appointment stays.")
        if clock.reset is not None and clock.reset_at is not None:
            raise Problem(
                409,
                "Already reset",
                f"The appointment of {code} was reset once, on {clock.reset_at.isoformat()}, to "
                f"{clock.reset.appointment_at.isoformat()}; it may be reset only once.",
            )
        if clock.appointment_at is None:
            raise Problem(409, "No appointment", f"Dossier {code} has no appointment to reset.")
        new = body.new_appointment_at or proposed_appointment(clock, sla.calendar, at)
        if new <= clock.appointment_at or new <= at:
            raise Problem(
                422,
                "Invalid request",
                "The new appointment must be later than the current one and than now.",
                errors=[{"source": "body", "field": "new_appointment_at", "reason": "not later"}],
            )
        if not apology_issued(clock):
            current = clock.current
            apology = ApologyRequired(
                appointment_at=clock.appointment_at,
                proposed_appointment_at=new,
                responsible_unit_code=current.unit_code if current else clock.receiving_unit_code,
                responsible_level=current.unit_level if current else "",
                reason=body.reason,
                receiving_unit_code=clock.receiving_unit_code,
                reset_allowed=True,
            )
            record_decision(uow, code, "dossier.apology_required", at, apology)
            APOLOGIES.labels(clock.receiving_unit_code, apology.responsible_level or "unknown").inc()
        change = AppointmentChanged(
            appointment_at=new,
            previous_appointment_at=clock.appointment_at,
            change=AppointmentChange.RESET,
            reason=body.reason,
        )
        record_decision(uow, code, "dossier.appointment_changed", at, change)
        await refresh(uow, sla, code, since=at)
        return Outcome(
            200,
            ResetPublic(
                dossier_code=code, appointment_at=new, previous_appointment_at=clock.appointment_at, reset_at=at
            ),
            {},
        )

    return await idem.run(units, command)
