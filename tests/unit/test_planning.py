"""Planning a dossier's route from the catalogue: the map in force on the day, each step's unit resolved
from the receiving commune, budgets, one-stop procedures, and what cannot be planned."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime, time

import pytest

from services.routing.planning import ONE_STOP_VERSION, PlannedRoute, RoutingError, plan_route, route_for
from shared.calendar import VIETNAM_TZ
from shared.catalog import SAMPLE_DIR, Catalog, ProcedureKind, UnitLevel, UnitMap, load_catalog
from shared.catalog.route_checks import statutory_minutes

LAND_CHANGE = "1.012777.000.00.00.H56"  # 10 working days; three_level: district, land_office
LAND_FIRST = "1.012766.000.00.00.H56"  # 20 working days; received at the commune in both maps
SOCIAL = "1.001776.000.00.00.H56"
BIRTH = "1.001193.000.00.00.H56"  # one-stop, same day
MARITAL = "1.004873.000.00.00.H56"  # one-stop, 3 working days
BUILDING = "1.009994.000.00.00.H56"  # one-stop, 15 calendar days
BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)
DAYS = {UnitMap.THREE_LEVEL: BEFORE, UnitMap.TWO_LEVEL: AFTER}


@pytest.fixture(scope="module")
def sample() -> Catalog:
    return load_catalog(SAMPLE_DIR)


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=VIETNAM_TZ)


def _units(plan: PlannedRoute) -> dict[str, str]:
    return {s.key: s.unit_code for s in plan.steps}


def test_the_land_change_route_goes_to_the_land_office_serving_the_commune_in_each_map(sample: Catalog) -> None:
    before = plan_route(sample, LAND_CHANGE, "H56.14", _at(BEFORE))
    assert before.map == "three_level" and before.route_version == "2025.1"
    assert [s.key for s in before.steps] == [
        "intake",
        "appraise",
        "tax_assessment",
        "payment",
        "update_certificate",
        "return",
    ]
    assert _units(before) == {
        "intake": "H56.14",
        "appraise": "H56.14.VPDK",
        "tax_assessment": "H56.14.THUE",
        "payment": "H56.14.VPDK",
        "update_certificate": "H56.14.VPDK",
        "return": "H56.14",
    }
    for commune, branch in [("H56.101", "H56.VPDK.01"), ("H56.102", "H56.VPDK.01"), ("H56.103", "H56.VPDK.02")]:
        after = plan_route(sample, LAND_CHANGE, commune, _at(AFTER))
        assert after.map == "two_level"
        assert branch == sample.serving(UnitLevel.LAND_OFFICE, commune, AFTER).code
        assert _units(after)["appraise"] == _units(after)["update_certificate"] == branch
        assert _units(after)["intake"] == _units(after)["return"] == commune
        assert _units(after)["tax_assessment"] == "H56.THUE.01"


def test_the_land_change_steps_carry_their_budgets_and_flags(sample: Catalog) -> None:
    steps = {s.key: s for s in plan_route(sample, LAND_CHANGE, "H56.101", _at(AFTER)).steps}
    assert [s.seq for s in steps.values()] == [1, 2, 3, 4, 5, 6]
    assert steps["intake"].budget_minutes == 240 and steps["intake"].unit_level == "commune"
    tax = steps["tax_assessment"]
    assert (tax.unit_level, tax.budget_minutes, tax.counts, tax.external) == ("tax", 3 * 480, False, True)
    payment = steps["payment"]
    assert (payment.budget_minutes, payment.counts, payment.external) == (0, False, False)
    assert steps["appraise"].external and steps["appraise"].unit_level == "land_office"
    assert steps["appraise"].name == "Kiểm tra, thẩm định hồ sơ; gửi thông tin địa chính sang cơ quan thuế"
    assert sum(s.budget_minutes for s in steps.values() if s.counts) == 10 * 480


def test_a_dossier_keeps_the_map_of_the_day_it_was_accepted(sample: Catalog) -> None:
    # H56.14.03 is a commune of the three-level map only, H56.102 (which absorbed it) of the two-level map.
    before = plan_route(sample, LAND_FIRST, "H56.14.03", _at(BEFORE, 16))
    assert before.map == "three_level"
    assert _units(before) == {
        "intake": "H56.14.03",
        "verify_origin": "H56.14.03",
        "public_posting": "H56.14.03",
        "appraise": "H56.14.VPDK",
        "tax_assessment": "H56.14.THUE",
        "payment": "H56.14.VPDK",
        "review": "H56.14.TNMT",
        "sign": "H56.14",
        "update_records": "H56.14.VPDK",
        "return": "H56.14.03",
    }
    after = plan_route(sample, LAND_FIRST, "H56.102", _at(AFTER, 7))
    assert after.map == "two_level"
    assert _units(after)["sign"] == "H56.102" and _units(after)["appraise"] == "H56.VPDK.01"
    with pytest.raises(
        RoutingError, match=re.escape("H56.14.03 is not a unit of the two_level map in force on 2025-07-01")
    ):
        plan_route(sample, LAND_FIRST, "H56.14.03", _at(AFTER))
    with pytest.raises(RoutingError, match=re.escape("H56.102 is not a unit of the three_level map")):
        plan_route(sample, LAND_FIRST, "H56.102", _at(BEFORE))


def test_the_day_is_taken_in_vietnam(sample: Catalog) -> None:
    late_utc = datetime(2025, 6, 30, 17, 30, tzinfo=UTC)  # 00:30 on 1 July in Hà Nội
    assert plan_route(sample, LAND_FIRST, "H56.101", late_utc).map == "two_level"
    with pytest.raises(RoutingError, match="timezone-aware"):
        plan_route(sample, LAND_FIRST, "H56.101", datetime(2025, 7, 1, 9))


def test_every_shipped_route_adds_up_to_the_statutory_time(sample: Catalog) -> None:
    routes = sample.routes()
    assert routes
    for route in routes:
        assert route.counting_minutes == statutory_minutes(sample.procedure(route.procedure)), route


def test_every_interconnected_procedure_has_a_route_in_every_map_it_is_received_in(sample: Catalog) -> None:
    interconnected = [p for p in sample.procedures() if p.kind is ProcedureKind.INTERCONNECTED]
    assert len(interconnected) == 5
    for procedure in interconnected:
        for map_ in procedure.received_at:
            route = route_for(sample, procedure.code, map_)
            assert route is not None and route.map is map_ and route.version == "2025.1"
    assert route_for(sample, BIRTH, "two_level") is None


def test_every_shipped_route_resolves_for_every_commune_of_its_map_that_receives_it(sample: Catalog) -> None:
    checked = 0
    for route in sample.routes():
        procedure = sample.procedure(route.procedure)
        day = DAYS[route.map]
        receivers = [u for u in sample.units(route.map, day) if u.level in procedure.received_at[route.map]]
        assert receivers
        for receiver in receivers:
            for commune in sorted(sample.communes_served(receiver.code, route.map)):
                plan = plan_route(sample, procedure.code, receiver.code, _at(day), commune_code=commune)
                assert plan.map == route.map.value and len(plan.steps) == len(route.steps)
                for planned, step in zip(plan.steps, route.steps, strict=True):
                    if step.unit == "receiving":
                        assert planned.unit_code == receiver.code
                    elif step.unit == "commune":
                        assert planned.unit_code == commune
                    elif step.unit in {"land_office", "tax", "social_insurance", "police"}:
                        assert planned.unit_code == sample.serving(UnitLevel(step.unit), commune, day).code
                    assert planned.unit_level == sample.unit(planned.unit_code).level.value
                checked += 1
    assert checked > 40


def test_a_receiving_unit_whose_area_settles_every_step_needs_no_commune(sample: Catalog) -> None:
    plan = plan_route(sample, LAND_CHANGE, "H56.VPDK.01", _at(AFTER))
    assert _units(plan)["appraise"] == "H56.VPDK.01" and _units(plan)["tax_assessment"] == "H56.THUE.01"
    # The provincial service centre covers communes served by two land offices: it must say which commune.
    with pytest.raises(RoutingError, match=r"step 'appraise'.*H56\.VPDK\.01, H56\.VPDK\.02.*give the commune"):
        plan_route(sample, LAND_CHANGE, "H56.TTPVHCC", _at(AFTER))
    plan = plan_route(sample, LAND_CHANGE, "H56.TTPVHCC", _at(AFTER), commune_code="H56.103")
    assert _units(plan)["appraise"] == "H56.VPDK.02" and _units(plan)["intake"] == "H56.TTPVHCC"
    # A district's communes are six: the commune's own steps need the commune named.
    with pytest.raises(RoutingError, match="step 'verify_origin'"):
        plan_route(sample, LAND_FIRST, "H56.14", _at(BEFORE))
    assert _units(plan_route(sample, LAND_FIRST, "H56.14", _at(BEFORE), commune_code="H56.14.05"))["verify_origin"] == (
        "H56.14.05"
    )


def test_social_assistance_goes_through_the_district_before_the_reform_and_stays_in_the_commune_after(
    sample: Catalog,
) -> None:
    before = plan_route(sample, SOCIAL, "H56.14.01", _at(BEFORE))
    assert _units(before)["appraise"] == "H56.14.LDTBXH" and _units(before)["decide"] == "H56.14"
    after = plan_route(sample, SOCIAL, "H56.101", _at(AFTER))
    assert {s.unit_code for s in after.steps} == {"H56.101"}
    posting = next(s for s in after.steps if s.key == "public_posting")
    assert not posting.counts and posting.budget_minutes == 2 * 480


@pytest.mark.parametrize(
    ("code", "minutes"),
    [(BIRTH, 0), (MARITAL, 3 * 480), (BUILDING, 15 * 480)],
    ids=["same-day", "working-days", "calendar-days"],
)
def test_a_one_stop_procedure_is_one_step_at_the_receiving_unit(sample: Catalog, code: str, minutes: int) -> None:
    receiving = "H56.101" if code != BUILDING else "H56.102"
    plan = plan_route(sample, code, receiving, _at(AFTER))
    assert plan.route_version == ONE_STOP_VERSION and plan.map == "two_level" and plan.procedure_code == code
    (step,) = plan.steps
    assert (step.seq, step.key, step.name) == (1, "decide", "Giải quyết hồ sơ")
    assert (step.unit_code, step.unit_level, step.budget_minutes, step.counts, step.external) == (
        receiving,
        "commune",
        minutes,
        True,
        False,
    )


def test_what_cannot_be_planned_is_a_routing_error(sample: Catalog) -> None:
    with pytest.raises(RoutingError, match=re.escape("no procedure 1.999999.000.00.00.H56")):
        plan_route(sample, "1.999999.000.00.00.H56", "H56.101", _at(AFTER))
    with pytest.raises(RoutingError, match=re.escape("no unit H56.999")):
        plan_route(sample, LAND_CHANGE, "H56.999", _at(AFTER))
    with pytest.raises(RoutingError, match=re.escape("H56.VPDK.01 is not a commune of the two_level map")):
        plan_route(sample, LAND_CHANGE, "H56.TTPVHCC", _at(AFTER), commune_code="H56.VPDK.01")
    with pytest.raises(RoutingError, match=re.escape("H56.14.01 is not a commune of the two_level map")):
        plan_route(sample, LAND_CHANGE, "H56.TTPVHCC", _at(AFTER), commune_code="H56.14.01")
    assert issubclass(RoutingError, ValueError)


def test_planning_imports_no_framework() -> None:
    code = (
        "import sys, services.routing.planning; "
        "print(sorted(m for m in ('fastapi', 'sqlmodel', 'sqlalchemy', 'aiokafka') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
