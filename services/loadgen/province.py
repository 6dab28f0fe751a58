"""The offers of a catalogue: each procedure at each commune that may receive it today, kept only when
routing can plan its route there (so every generated dossier is one the platform accepts)."""

from __future__ import annotations

from datetime import datetime

from services.loadgen.mix import Offer
from services.routing.planning import RoutingError, plan_route
from shared.calendar import VIETNAM_TZ
from shared.catalog import Catalog
from shared.catalog.models import ProcedureKind, UnitLevel


def offers(catalog: Catalog, at: datetime | None = None) -> list[Offer]:
    now = at or datetime.now(VIETNAM_TZ)
    day = now.astimezone(VIETNAM_TZ).date()
    map_ = catalog.unit_map_at(day)
    communes = [u for u in catalog.units(map_, day) if u.level is UnitLevel.COMMUNE]
    found: list[Offer] = []
    for procedure in catalog.procedures(day):
        if UnitLevel.COMMUNE not in procedure.received_at.get(map_, ()):
            continue
        for commune in communes:
            try:
                plan_route(catalog, procedure.code, commune.code, now)
            except RoutingError:
                continue
            found.append(
                Offer(
                    procedure_code=procedure.code,
                    unit_code=commune.code,
                    interconnected=procedure.kind is ProcedureKind.INTERCONNECTED,
                    channels=tuple(c.value for c in procedure.channels),
                    result_delivery=tuple(r.value for r in procedure.result_delivery),
                )
            )
    return found
