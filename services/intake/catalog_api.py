"""The published catalogue: procedures and units, as portals and desks need them. Public data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.intake.domain import VN_TZ
from shared.catalog import Catalog, UnitLevel, UnitMap
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["catalogue"])


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.runtime.state["catalog"]
    return catalog


@router.get("/procedures", summary="Procedures in force on a day (default: today)")
async def list_procedures(
    request: Request,
    at: Annotated[date | None, Query(description="Day (YYYY-MM-DD); default today")] = None,
    field: Annotated[str | None, Query(max_length=100, description="Lĩnh vực, e.g. 'Hộ tịch'")] = None,
) -> dict[str, Any]:
    day = at or datetime.now(VN_TZ).date()
    items = [
        p.model_dump(mode="json", by_alias=True)
        for p in _catalog(request).procedures(day)
        if field is None or p.field == field
    ]
    return {"at": day.isoformat(), "items": items}


@router.get("/units", summary="Units of the map of local government in force on a day")
async def list_units(
    request: Request,
    at: Annotated[date | None, Query(description="Day (YYYY-MM-DD); default today")] = None,
    level: Annotated[UnitLevel | None, Query()] = None,
) -> dict[str, Any]:
    catalog = _catalog(request)
    day = at or datetime.now(VN_TZ).date()
    try:
        unit_map: UnitMap = catalog.unit_map_at(day)
    except LookupError as exc:
        raise Problem(404, "No map on that day", str(exc)) from exc
    units = [u.model_dump(mode="json") for u in catalog.units(unit_map, day) if level is None or u.level is level]
    return {"at": day.isoformat(), "map": unit_map.value, "items": units}
