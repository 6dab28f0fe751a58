"""Routes: the approved internal process (quy trình nội bộ) of each interconnected procedure, per map.

A route file (``routes/*.yaml``) names one procedure and holds, for each map the procedure is received
in, the ordered steps: who is responsible (a unit type, resolved to a concrete unit from the commune
the dossier concerns), the step's time budget, whether that time counts toward the dossier's deadline
and whether the step runs in an external system. See docs/catalog.md, "Routes".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Discriminator, Field, StringConstraints, Tag, ValidationInfo, field_validator

from shared.catalog.models import ProcedureCode, Text, UnitCode, UnitMap, _Record

MINUTES_PER_WORKING_DAY = 480  # 1 working day = 8 working hours (shared/calendar)
MINUTES_PER_WORKING_HOUR = 60

StepKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
RouteVersion = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z.-]*$", max_length=40)]
CodePart = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]+$")]


class BudgetUnit(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"


class Budget(_Record):
    amount: float = Field(ge=0, allow_inf_nan=False)
    unit: BudgetUnit

    @field_validator("unit")
    @classmethod
    def _whole_minutes(cls, unit: BudgetUnit, info: ValidationInfo) -> BudgetUnit:
        amount = info.data.get("amount")
        if amount is not None:
            minutes = amount * _PER_UNIT[unit]
            if abs(minutes - round(minutes)) > 1e-9:
                raise ValueError(f"{amount} {unit} is not a whole number of working minutes ({minutes:g})")
        return unit

    @property
    def minutes(self) -> int:
        return round(self.amount * _PER_UNIT[self.unit])


_PER_UNIT = {BudgetUnit.WORKING_DAYS: MINUTES_PER_WORKING_DAY, BudgetUnit.WORKING_HOURS: MINUTES_PER_WORKING_HOUR}


class UnitType(StrEnum):
    """Who is responsible for a step, resolved from the commune the dossier concerns."""

    RECEIVING = "receiving"  # the unit that accepted the dossier (its one-stop desk)
    COMMUNE = "commune"  # the commune itself
    DISTRICT = "district"  # the commune's district (three-level map)
    PROVINCE = "province"  # the commune's province
    LAND_OFFICE = "land_office"  # the sector units serving the commune
    TAX = "tax"
    SOCIAL_INSURANCE = "social_insurance"
    POLICE = "police"


class DistrictDepartment(_Record):
    """A specialised office of the commune's district: the unit coded ``{district code}.{district_department}``."""

    district_department: CodePart


class NamedUnit(_Record):
    """One unit named by its code, whatever the commune: a provincial department, say."""

    code: UnitCode


def _unit_form(value: object) -> str | None:
    if isinstance(value, str | UnitType):
        return "type"
    if isinstance(value, DistrictDepartment) or (isinstance(value, dict) and "district_department" in value):
        return "district_department"
    if isinstance(value, NamedUnit) or (isinstance(value, dict) and "code" in value):
        return "code"
    return None


UnitRef = Annotated[
    Annotated[UnitType, Tag("type")]
    | Annotated[DistrictDepartment, Tag("district_department")]
    | Annotated[NamedUnit, Tag("code")],
    Discriminator(
        _unit_form,
        custom_error_type="unit_ref",
        custom_error_message=(
            "expected a unit type (receiving, commune, district, province, land_office, tax, social_insurance, "
            "police), {district_department: SUFFIX} or {code: UNIT_CODE}"
        ),
    ),
]


class ExternalSystem(StrEnum):
    LAND_REGISTRY = "land_registry"  # the land office's software (e.g. VILIS)
    TAX = "tax"  # the tax authority's system
    RESIDENCE = "residence"  # the police's residence database
    SOCIAL_INSURANCE = "social_insurance"  # social insurance's system


class Step(_Record):
    key: StepKey = Field(description="Stable id of the step within the route, e.g. 'appraise'.")
    name: Text = Field(description="The step's Vietnamese name, as printed on the process control slip.")
    unit: UnitRef
    counts: bool = Field(default=True, description="Whether the step's time counts toward the dossier's deadline.")
    budget: Budget | None = Field(
        default=None,
        validate_default=True,
        description="The step's own time. Required (greater than 0) when the step counts; none means 0.",
    )
    external: ExternalSystem | None = Field(
        default=None, description="The external system the step is handed over to, if any."
    )

    @field_validator("budget")
    @classmethod
    def _counting_step_has_time(cls, budget: Budget | None, info: ValidationInfo) -> Budget | None:
        if info.data.get("counts") is True and (budget is None or budget.minutes == 0):
            raise ValueError("a counting step needs a budget greater than 0 (write counts: false if it does not count)")
        return budget

    @property
    def minutes(self) -> int:
        return 0 if self.budget is None else self.budget.minutes


class RouteFile(_Record):
    """A file of ``routes/``: one procedure's routes, one per map it is received in."""

    procedure: ProcedureCode
    version: RouteVersion = Field(description="The version of this file's routes, pinned on each planned dossier.")
    routes: Mapping[UnitMap, Annotated[tuple[Step, ...], Field(min_length=1)]] = Field(min_length=1)


@dataclass(frozen=True)
class Route:
    procedure: str
    map: UnitMap
    version: str
    steps: tuple[Step, ...]

    @property
    def counting_minutes(self) -> int:
        return sum(step.minutes for step in self.steps if step.counts)


def routes_of(file: RouteFile) -> list[Route]:
    return [Route(file.procedure, map_, file.version, steps) for map_, steps in file.routes.items()]
