"""The catalogue as intake sees it: which procedures and units exist on a day, and what they allow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.intake.domain import VN_TZ
from shared.catalog import Catalog, Procedure, ProcedureKind
from shared.events.dossier import Channel, ResultDelivery, StatutoryTime, TimeUnit


@dataclass(frozen=True)
class ProcedureView:
    procedure: Procedure

    @property
    def name(self) -> str:
        return self.procedure.name

    @property
    def interconnected(self) -> bool:
        return self.procedure.kind is ProcedureKind.INTERCONNECTED

    @property
    def statutory_time(self) -> StatutoryTime:
        statutory = self.procedure.statutory
        if isinstance(statutory, str):  # same day
            return StatutoryTime(amount=0, unit=TimeUnit.WORKING_DAYS)
        return StatutoryTime(amount=statutory.amount, unit=TimeUnit(statutory.unit.value))

    @property
    def allowed_channels(self) -> frozenset[Channel]:
        return frozenset(self.procedure.channels)

    @property
    def allowed_deliveries(self) -> frozenset[ResultDelivery]:
        return frozenset(ResultDelivery(d.value) for d in self.procedure.result_delivery)


class CatalogDirectory:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @staticmethod
    def _day(at: datetime) -> date:
        return at.astimezone(VN_TZ).date()

    def procedure_rules(self, code: str, at: datetime) -> ProcedureView | None:
        try:
            procedure = self.catalog.procedure(code)
        except KeyError:
            return None
        return ProcedureView(procedure) if procedure.holds_on(self._day(at)) else None

    def unit_name(self, code: str, at: datetime) -> str | None:
        try:
            unit = self.catalog.unit(code)
        except KeyError:
            return None
        return unit.name if unit.holds_on(self._day(at)) else None

    def communes_of(self, unit_code: str, at: datetime) -> frozenset[str]:
        """The communes in a unit's area in the map of that day: a commune itself, those under a district
        or a province, those a sector unit serves."""
        try:
            unit_map = self.catalog.unit_map_at(self._day(at))
            return self.catalog.communes_served(unit_code, unit_map)
        except (KeyError, LookupError):
            return frozenset()

    def receives(self, procedure_code: str, unit_code: str, at: datetime) -> bool:
        """Whether the unit receives this procedure on that day: it holds that day, belongs to the map in
        force that day, and that map's ``received_at`` lists its level. On a day no map holds, no unit
        receives anything."""
        day = self._day(at)
        try:
            map_ = self.catalog.unit_map_at(day)
        except LookupError:
            return False
        unit = self.catalog.unit(unit_code)
        if not unit.holds_on(day) or map_ not in unit.maps:
            return False
        return unit.level in self.catalog.procedure(procedure_code).received_at.get(map_, ())
