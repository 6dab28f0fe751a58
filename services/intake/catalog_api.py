"""The published catalogue: procedures and units, as portals and desks need them. Public data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from services.intake.domain import VN_TZ
from shared.catalog import Catalog, UnitLevel, UnitMap
from shared.web.problems import Problem

router = APIRouter(prefix="/v1", tags=["catalogue"])


def _iso_day(value: object) -> object:
    """Only YYYY-MM-DD: pydantic would also read ``?at=0`` as a Unix time (1970-01-01)."""
    if isinstance(value, str) and not (len(value) == 10 and value[4] == value[7] == "-"):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


Day = Annotated[date | None, BeforeValidator(_iso_day), Query(description="Day (YYYY-MM-DD); default today")]


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.runtime.state["catalog"]
    return catalog


@router.get("/procedures", summary="Procedures in force on a day (default: today)")
async def list_procedures(
    request: Request,
    at: Day = None,
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
    at: Day = None,
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
