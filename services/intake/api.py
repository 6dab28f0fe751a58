"""Intake's HTTP API for portals and one-stop desks."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.intake.domain import DossierStatus
from services.intake.handlers import accept_dossier
from services.intake.schemas import DossierCreate, DossierPublic
from services.intake.tables import Dossier
from shared.events.dossier import Channel
from shared.web.auth import require_any
from shared.web.deps import SessionDep, UnitsDep
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["dossiers"])

CanSubmit = require_any("portal", prefixes=("desk:",))
CanRead = require_any("portal", "read", prefixes=("desk:",))


def to_public(dossier: Dossier) -> DossierPublic:
    status = DossierStatus(dossier.status)
    return DossierPublic(
        code=dossier.code,
        status=status.value,
        status_code=status.code,
        procedure_code=dossier.procedure_code,
        receiving_unit_code=dossier.receiving_unit_code,
        channel=Channel(dossier.channel),
        received_at=dossier.received_at,
        appointment_at=dossier.appointment_at,
        links={"self": f"/v1/dossiers/{dossier.code}"},
    )


@router.post(
    "/dossiers",
    status_code=201,
    response_model=DossierPublic,
    dependencies=[CanSubmit],
    summary="File a dossier",
    responses={401: {"description": "No or bad API key"}, 422: {"description": "Invalid body"}},
)
async def create_dossier(body: DossierCreate, units: UnitsDep, response: Response) -> DossierPublic:
    async with units() as uow:
        dossier = await accept_dossier(uow, body)
    response.headers["Location"] = f"/v1/dossiers/{dossier.code}"
    return to_public(dossier)


@router.get("/dossiers/{code}", response_model=DossierPublic, dependencies=[CanRead], summary="A dossier")
async def get_dossier(code: str, session: SessionDep) -> DossierPublic:
    dossier = await session.get(Dossier, code)
    if dossier is None:
        raise Problem(404, "Dossier not found", f"No dossier has the code {code!r}.")
    return to_public(dossier)
