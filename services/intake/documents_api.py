"""What the citizen holds and sees: the receipt slip (PDF or JSON) and the public tracking page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlmodel import col, select

from services.intake.access import may_read
from services.intake.receipt import receipt_json, render_receipt_pdf
from services.intake.slips import UnitName, receipt_data, tracking_view
from services.intake.tables import Dossier, TimelineEntry
from services.intake.tracking_page import render_not_found_page, render_too_many_tries_page, render_tracking_page
from shared.catalog import Catalog
from shared.web.auth import CurrentPrincipal
from shared.web.deps import SessionDep
from shared.web.problems import Problem
from shared.web.ratelimit import RateLimiter

router = APIRouter(tags=["citizen documents"])

CodePath = Annotated[str, Path(min_length=1, max_length=64, examples=["H56.101-261123-0001"])]
# Four digits are few: a visitor gets a handful of tries a minute before the page asks them to wait.
_phone_tries = RateLimiter(rate_per_s=10 / 60, burst=10)


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.runtime.state["catalog"]
    return catalog


def _parent_name(catalog: Catalog, unit_code: str) -> str:
    try:
        ancestors = catalog.ancestors(unit_code)
    except KeyError:
        return ""
    return ancestors[0].name if ancestors else ""


def _unit_namer(catalog: Catalog) -> UnitName:
    def name(code: str) -> str | None:
        try:
            return catalog.unit(code).name
        except KeyError:
            return None

    return name


def tracking_url(request: Request, code: str) -> str:
    base = request.app.state.runtime.settings.public_base_url or str(request.base_url)
    return f"{base.rstrip('/')}/track/{code}"


@router.get(
    "/v1/dossiers/{code}/receipt",
    summary="The receipt and appointment slip (Giấy tiếp nhận hồ sơ và hẹn trả kết quả)",
    description="A4 PDF by default (Vietnamese fonts, QR code of the tracking link); JSON with "
    "`Accept: application/json` or `?format=json`. Only for an accepted dossier (409 otherwise).",
    responses={
        200: {"content": {"application/pdf": {}, "application/json": {}}},
        404: {"description": "No such dossier"},
        409: {"description": "The dossier was not accepted"},
    },
)
async def receipt(
    code: CodePath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    format: Annotated[str | None, Query(pattern="^(pdf|json)$")] = None,
) -> Response:
    dossier = await session.get(Dossier, code)
    if dossier is None or not may_read(principal, dossier.receiving_unit_code, dossier.submitted_by):
        raise Problem(404, "Dossier not found", f"No dossier has the code {code!r}.")
    if dossier.accepted_at is None or dossier.appointment_at is None:
        raise Problem(
            409,
            "No receipt yet",
            "A receipt is issued when the desk accepts the dossier.",
            dossier_status=dossier.status,
        )
    data = receipt_data(
        dossier,
        _parent_name(_catalog(request), dossier.receiving_unit_code),
        tracking_url(request, code),
        officer_name=None,
    )
    wants_json = format == "json" or (format is None and "application/json" in request.headers.get("accept", ""))
    if wants_json:
        return JSONResponse(receipt_json(data))
    return Response(
        render_receipt_pdf(data),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="giay-tiep-nhan-{code}.pdf"'},
    )


@router.get(
    "/track/{code}",
    response_class=HTMLResponse,
    responses={
        404: {"description": "No such dossier (a page saying so)", "content": {"text/html": {}}},
        429: {"description": "Too many phone guesses from this address (Retry-After)", "content": {"text/html": {}}},
    },
    summary="Public tracking page for citizens (Tra cứu hồ sơ)",
    description="Status, appointment and the steps done. The applicant's name and masked phone appear "
    "only when `phone_last4` matches the phone given when filing.",
)
async def track(
    code: CodePath,
    request: Request,
    session: SessionDep,
    phone_last4: Annotated[str | None, Query(max_length=4)] = None,
) -> HTMLResponse:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    dossier = await session.get(Dossier, code)
    if dossier is None:
        return HTMLResponse(render_not_found_page(code), status_code=404, headers=headers)
    if phone_last4:
        try:
            _phone_tries.check(request.client.host if request.client else "?")
        except Problem as exc:
            retry = (exc.headers or {}).get("Retry-After", "60")
            return HTMLResponse(
                render_too_many_tries_page(code, int(retry)),
                status_code=429,
                headers={**headers, "Retry-After": retry},
            )
    timeline = (
        await session.exec(
            select(TimelineEntry).where(TimelineEntry.dossier_code == code).order_by(col(TimelineEntry.id))
        )
    ).all()
    view = tracking_view(dossier, timeline, _unit_namer(_catalog(request)), phone_last4)
    return HTMLResponse(render_tracking_page(view), headers=headers)
