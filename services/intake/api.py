"""Intake's HTTP API for portals and one-stop desks: thin, translating HTTP to commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi import Body as RequestBody
from pydantic import BaseModel, PlainValidator
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.intake import actions
from services.intake.access import may_read
from services.intake.filing import Filing, accept, already_filed, existing_code, file_dossier
from services.intake.importer import import_dossiers
from services.intake.legacy import EXAMPLE, MAX_IMPORT, ImportBatch, LegacyDossier, as_batch
from services.intake.schemas import (
    AcceptIn,
    DossierCreate,
    DossierDetail,
    DossierPage,
    DossierPublic,
    FinancialObligationIn,
    ImportReport,
    ItemsIn,
    PaymentIn,
    ReasonIn,
    ReturnIn,
    SupplementsIn,
)
from services.intake.tables import Dossier, TimelineEntry
from services.intake.views import detail, public
from shared.bus.unit_of_work import UnitOfWork
from shared.web.auth import CurrentPrincipal, Principal
from shared.web.cursor import decode_cursor, encode_cursor
from shared.web.deps import SessionDep, UnitsDep
from shared.web.idempotency import Idempotency, Outcome
from shared.web.instants import Instant
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["dossiers"])

DossierCode = Annotated[str, Path(min_length=1, max_length=64, examples=["H56.14-261122-0001"])]
Body = TypeVar("Body", bound=BaseModel)
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown API key"},
    403: {"description": "The key's scopes do not allow it"},
    404: {"description": "No such dossier"},
    409: {"description": "Not allowed in the dossier's current status, or changed concurrently"},
    422: {"description": "Invalid body, field by field"},
    429: {"description": "Too many requests for this key"},
}


def filing_of(request: Request) -> Filing:
    filing: Filing = request.app.state.runtime.state["filing"]
    return filing


@router.post(
    "/dossiers",
    status_code=201,
    response_model=DossierPublic,
    responses=ERRORS,
    summary="File a dossier",
    description="From a desk (`desk:<unit>` scope) the dossier is accepted at once: receipt and "
    "appointment (the 15:00 rule applies). From a portal it is submitted and waits for a desk. "
    "An `external_id` this key already filed answers 409 with the dossier's code in `existing_code`.",
)
async def create_dossier(
    body: DossierCreate, request: Request, units: UnitsDep, principal: CurrentPrincipal, idem: Idempotency
) -> Response:
    filing = filing_of(request)

    async def command(uow: UnitOfWork) -> Outcome:
        dossier = await file_dossier(uow, filing, principal, body)
        return Outcome(201, public(dossier), {"Location": f"/v1/dossiers/{dossier.code}"})

    try:
        return await idem.run(units, command)
    except IntegrityError:
        # Two requests with the same external_id at once: the unique index let only the first through.
        if body.external_id is None:
            raise
        async with units.sessions() as session:
            code = await existing_code(session, body.external_id, principal.key_id)
        if code is None:
            raise
        raise already_filed(body.external_id, code) from None


ImportBody = Annotated[
    list[Any],
    PlainValidator(as_batch, json_schema_input_type=LegacyDossier | ImportBatch),
    RequestBody(
        openapi_examples={
            "one": {"summary": "One legacy dossier", "value": EXAMPLE},
            "batch": {"summary": f"Up to {MAX_IMPORT} legacy dossiers", "value": {"dossiers": [EXAMPLE]}},
        }
    ),
]


@router.post(
    "/dossiers:import",
    response_model=ImportReport,
    responses={k: v for k, v in ERRORS.items() if k in (401, 403, 422, 429)},
    summary="Import legacy dossiers with their history",
    description="For keys with the `import` scope (or `admin`). Each dossier's history is replayed through "
    "the same commands as this API, at the legacy times: statuses, appointments, timeline and events are "
    "those a live dossier would have had. Each dossier is all or nothing and is answered on its own: "
    "`imported` (with its new code), `already_imported` (its `external_id` exists, with that dossier's code) "
    "or `rejected` (with field-level `errors`, paths such as `history.2.action`). "
    "A history is a list of `{action, occurred_at, …the action's body fields}`, oldest first, starting with "
    "`submit` or `accept`, times never going back nor in the future. The format is described in "
    "`services/intake/legacy.py`; `lienthong import FILE.ndjson` sends NDJSON files of it in batches.",
)
async def import_legacy_dossiers(
    body: ImportBody, request: Request, units: UnitsDep, principal: CurrentPrincipal
) -> ImportReport:
    if not principal.has("import"):
        raise Problem(403, "Forbidden", "Importing dossiers needs a key with the import scope.")
    return await import_dossiers(units, filing_of(request), principal, body)


def _action_route(
    path: str,
    summary: str,
    body_type: type[Body],
    handler: Callable[[UnitOfWork, Principal, str, Body], Awaitable[Dossier]],
) -> None:
    async def endpoint(
        code: DossierCode, body: Body, units: UnitsDep, principal: CurrentPrincipal, idem: Idempotency
    ) -> Response:
        async def command(uow: UnitOfWork) -> Outcome:
            return Outcome(200, public(await handler(uow, principal, code, body)), {})

        return await idem.run(units, command)

    endpoint.__annotations__["body"] = body_type
    router.add_api_route(
        f"/dossiers/{{code}}/{path}",
        endpoint,
        methods=["POST"],
        response_model=DossierPublic,
        responses=ERRORS,
        summary=summary,
        name=path,
    )


@router.post(
    "/dossiers/{code}/accept",
    response_model=DossierPublic,
    responses=ERRORS,
    summary="Accept a submitted dossier: receipt and appointment",
)
async def accept_dossier(
    code: DossierCode, body: AcceptIn, request: Request, units: UnitsDep, principal: CurrentPrincipal, idem: Idempotency
) -> Response:
    filing = filing_of(request)

    async def command(uow: UnitOfWork) -> Outcome:
        return Outcome(200, public(await accept(uow, filing, principal, code, body)), {})

    return await idem.run(units, command)


_action_route("refuse", "Refuse a submitted dossier, with the reason", ReasonIn, actions.refuse)
_action_route(
    "supplement-requests",
    "Ask the citizen to supplement the dossier (pauses the clock)",
    ItemsIn,
    actions.request_supplement,
)
_action_route("supplements", "Record the citizen's supplement (resumes the clock)", SupplementsIn, actions.supplement)
_action_route(
    "financial-obligations",
    "Fees or land tax due (pauses the clock)",
    FinancialObligationIn,
    actions.set_financial_obligation,
)
_action_route("payments", "Record the payment (resumes the clock)", PaymentIn, actions.pay)
_action_route("withdraw", "The citizen withdraws the dossier", ReasonIn, actions.withdraw)
_action_route("stop", "Stop processing the dossier", ReasonIn, actions.stop)
_action_route("return", "Hand the result over at the desk or to the post", ReturnIn, actions.return_result)


@router.get(
    "/dossiers/{code}",
    response_model=DossierDetail,
    responses=ERRORS,
    summary="A dossier: status, appointment and the timeline of every event",
)
async def get_dossier(code: DossierCode, session: SessionDep, principal: CurrentPrincipal) -> DossierDetail:
    dossier = await session.get(Dossier, code)
    if dossier is None or not may_read(principal, dossier.receiving_unit_code, dossier.submitted_by):
        # A dossier the key may not read is reported as absent, so codes cannot be probed.
        raise Problem(404, "Dossier not found", f"No dossier has the code {code!r}.")
    timeline = (
        await session.exec(
            select(TimelineEntry).where(TimelineEntry.dossier_code == code).order_by(col(TimelineEntry.id))
        )
    ).all()
    return detail(dossier, list(timeline))


def _cursor(dossier: Dossier) -> str:
    return encode_cursor(dossier.received_at, dossier.code)


@router.get(
    "/dossiers",
    response_model=DossierPage,
    responses=ERRORS,
    summary="Dossiers, newest last, filtered; follow next_cursor for the next page",
)
async def list_dossiers(
    session: SessionDep,
    principal: CurrentPrincipal,
    unit: Annotated[str | None, Query(max_length=40)] = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=30)] = None,
    received_from: Annotated[Instant | None, Query(alias="from", examples=["2026-11-01T00:00:00+07:00"])] = None,
    received_to: Annotated[Instant | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DossierPage:
    query = select(Dossier)
    if not principal.has("read"):
        desks = principal.units("desk")
        visible: list[ColumnElement[bool]] = [col(Dossier.receiving_unit_code).in_(desks)] if desks else []
        if principal.has("portal"):
            visible.append(col(Dossier.submitted_by) == principal.key_id)
        if not visible:
            raise Problem(403, "Forbidden", "This API key may not list dossiers.")
        query = query.where(or_(*visible))
    for value, column in (
        (unit, Dossier.receiving_unit_code),
        (procedure, Dossier.procedure_code),
        (status, Dossier.status),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if received_from is not None:
        query = query.where(col(Dossier.received_at) >= received_from)
    if received_to is not None:
        query = query.where(col(Dossier.received_at) < received_to)
    if cursor is not None:
        after_at, after_code = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Dossier.received_at) > after_at,
                and_(col(Dossier.received_at) == after_at, col(Dossier.code) > after_code),
            )
        )
    rows = list(
        (await session.exec(query.order_by(col(Dossier.received_at), col(Dossier.code)).limit(limit + 1))).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return DossierPage(items=[public(d) for d in rows], next_cursor=_cursor(rows[-1]) if more and rows else None)
