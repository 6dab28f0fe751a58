"""Route files of the catalogue: the sample's, a small catalogue's, and bad files stopping start-up at the
file and line at fault."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from services.routing.planning import plan_route
from shared.calendar import VIETNAM_TZ
from shared.catalog import SAMPLE_DIR, CatalogError, ExternalSystem, UnitMap, UnitType, load_catalog
from shared.catalog.routes import Budget, BudgetUnit, DistrictDepartment, NamedUnit

LAND_CHANGE = "1.012777.000.00.00.H56"


def test_the_sample_routes_load(tmp_path: Path) -> None:
    catalog = load_catalog(SAMPLE_DIR)
    route = catalog.route(LAND_CHANGE, UnitMap.THREE_LEVEL)
    assert route is not None and route.version == "2025.1" and route.map is UnitMap.THREE_LEVEL
    appraise = route.steps[1]
    assert (appraise.key, appraise.unit, appraise.external) == ("appraise", UnitType.LAND_OFFICE, "land_registry")
    assert appraise.budget == Budget(amount=4, unit=BudgetUnit.WORKING_DAYS) and appraise.minutes == 4 * 480
    assert route.steps[2].external is ExternalSystem.TAX and not route.steps[2].counts
    assert route.steps[3].budget is None and route.steps[3].minutes == 0
    first = catalog.route("1.012766.000.00.00.H56", UnitMap.THREE_LEVEL)
    assert first is not None and DistrictDepartment(district_department="TNMT") in [s.unit for s in first.steps]
    assert len(catalog.routes()) == 10


# A small catalogue: the 12-day process of docs (DOMAIN.md) before the reform, and a calendar-day procedure.

MANIFEST = """\
version: 1
maps:
  three_level: {valid_to: 2025-07-01}
  two_level: {valid_from: 2025-07-01}
"""

UNITS = """\
- {code: H36, name: Ủy ban nhân dân tỉnh Thử, level: province, maps: [three_level, two_level]}
- {code: H36.VPDK, name: Văn phòng Đăng ký đất đai tỉnh Thử, level: department, parent: H36,
   maps: [three_level, two_level]}
- {code: H36.05, name: Ủy ban nhân dân huyện Năm, level: district, parent: H36, maps: [three_level],
   valid_to: 2025-07-01}
- {code: H36.05.01, name: Xã Một, level: commune, parent: H36.05, maps: [three_level], valid_to: 2025-07-01}
- {code: H36.05.02, name: Xã Hai, level: commune, parent: H36.05, maps: [three_level], valid_to: 2025-07-01}
- {code: H36.05.TNMT, name: Phòng Tài nguyên và Môi trường huyện Năm, level: department, parent: H36.05,
   maps: [three_level], valid_to: 2025-07-01}
- {code: H36.05.CN, name: Chi nhánh Văn phòng đăng ký đất đai huyện Năm, level: land_office, parent: H36.VPDK,
   maps: [three_level], serves: [H36.05.01, H36.05.02], valid_to: 2025-07-01}
- {code: H36.01, name: Xã Năm Mới, level: commune, parent: H36, maps: [two_level], valid_from: 2025-07-01}
- {code: H36.CN1, name: Chi nhánh Văn phòng đăng ký đất đai khu vực 1, level: land_office, parent: H36.VPDK,
   maps: [two_level], serves: [H36.01], valid_from: 2025-07-01}
"""

_PROCEDURE = """\
- code: {code}
  name: {name}
  field: Đất đai
  statutory: {statutory}
  kind: {kind}
  received_at: {received_at}
  channels: [in_person]
  postal: {{submit: false, return: false}}
  result_delivery: [desk]
  online_level: none
  documents: [{{name: Đơn đăng ký}}]
"""

PROCEDURES = _PROCEDURE.format(
    code="1.000012.000.00.00.H36",
    name="Thủ tục mười hai ngày",
    statutory="{amount: 12, unit: working_days}",
    kind="interconnected",
    received_at="{three_level: [district], two_level: [commune]}",
) + _PROCEDURE.format(
    code="1.000015.000.00.00.H36",
    name="Thủ tục mười lăm ngày",
    statutory="{amount: 15, unit: calendar_days}",
    kind="interconnected",
    received_at="{two_level: [commune]}",
)

TWELVE = """\
procedure: 1.000012.000.00.00.H36
version: "1"
routes:
  three_level:
    - {key: intake, name: Tiếp nhận hồ sơ, unit: receiving, budget: {amount: 0.25, unit: working_days}}
    - {key: assign, name: Phân công, unit: {district_department: TNMT}, budget: {amount: 0.5, unit: working_days}}
    - {key: appraise, name: Thẩm định hồ sơ, unit: land_office, budget: {amount: 5.5, unit: working_days}}
    - {key: review, name: Kiểm tra, unit: {district_department: TNMT}, budget: {amount: 4, unit: working_hours}}
    - {key: head, name: Lãnh đạo phê duyệt, unit: district, budget: {amount: 1, unit: working_days}}
    - {key: records, name: Vào sổ và đóng dấu, unit: receiving, budget: {amount: 2, unit: working_hours}}
    - {key: provincial_office, name: Văn phòng tỉnh, unit: {code: H36.VPDK}, budget: {amount: 4, unit: working_days}}
    - {key: return, name: Trả kết quả, unit: receiving, counts: false}
  two_level:
    - {key: intake, name: Tiếp nhận hồ sơ, unit: receiving, budget: {amount: 2, unit: working_hours}}
    - {key: appraise, name: Thẩm định hồ sơ, unit: land_office, budget: {amount: 7.5, unit: working_days}}
    - {key: provincial_office, name: Văn phòng tỉnh, unit: {code: H36.VPDK}, budget: {amount: 4, unit: working_days}}
    - {key: return, name: Trả kết quả, unit: receiving, budget: {amount: 0.25, unit: working_days}}
"""

FIFTEEN = """\
procedure: 1.000015.000.00.00.H36
version: 2025.07-a
routes:
  two_level:
    - {key: intake, name: Tiếp nhận hồ sơ, unit: receiving, budget: {amount: 0.5, unit: working_days}}
    - {key: appraise, name: Thẩm định hồ sơ, unit: land_office, budget: {amount: 14, unit: working_days}}
    - {key: return, name: Trả kết quả, unit: commune, budget: {amount: 4, unit: working_hours}}
"""


def _write(directory: Path, **files: str) -> Path:
    contents = {
        "catalog.yaml": MANIFEST,
        "units.yaml": UNITS,
        "procedures.yaml": PROCEDURES,
        "routes/twelve.yaml": TWELVE,
        "routes/fifteen.yaml": FIFTEEN,
    }
    contents.update({name.replace("__", "/").replace("_yaml", ".yaml"): text for name, text in files.items()})
    for name, text in contents.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def _problems(directory: Path) -> str:
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    return str(caught.value)


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def test_the_twelve_day_process_of_the_domain_brief(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path))
    plan = plan_route(catalog, "1.000012.000.00.00.H36", "H36.05", datetime(2025, 6, 2, 9, tzinfo=VIETNAM_TZ))
    assert plan.route_version == "1" and plan.map == "three_level"
    assert [(s.key, s.unit_code, s.budget_minutes, s.counts) for s in plan.steps] == [
        ("intake", "H36.05", 120, True),
        ("assign", "H36.05.TNMT", 240, True),
        ("appraise", "H36.05.CN", 2640, True),
        ("review", "H36.05.TNMT", 240, True),
        ("head", "H36.05", 480, True),
        ("records", "H36.05", 120, True),
        ("provincial_office", "H36.VPDK", 1920, True),
        ("return", "H36.05", 0, False),
    ]
    assert [s.unit_level for s in plan.steps][1:3] == ["department", "land_office"]
    assert catalog.route("1.000012.000.00.00.H36", UnitMap.TWO_LEVEL) is not None
    provincial = catalog.route("1.000012.000.00.00.H36", UnitMap.TWO_LEVEL)
    assert provincial is not None and provincial.steps[2].unit == NamedUnit(code="H36.VPDK")


def test_a_calendar_day_procedure_sums_its_budgets_in_days(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path))
    route = catalog.route("1.000015.000.00.00.H36", UnitMap.TWO_LEVEL)
    assert route is not None and route.version == "2025.07-a" and route.counting_minutes == 15 * 480
    short = FIFTEEN.replace("amount: 14,", "amount: 13,")
    directory = _write(tmp_path / "short", routes__fifteen_yaml=short)
    line = _line_of(short, "two_level:")
    expected = (
        f"{directory / 'routes/fifteen.yaml'}:{line}: 1.000015.000.00.00.H36: the counting steps of the two_level "
        "route add up to 14 days, not the statutory 15 calendar days"
    )
    assert expected in _problems(directory)


def test_a_route_for_a_map_the_procedure_is_not_received_in(tmp_path: Path) -> None:
    text = FIFTEEN.replace(
        "  two_level:", "  three_level:\n    - {key: intake, name: X, unit: receiving, counts: false}\n  two_level:"
    )
    directory = _write(tmp_path, routes__fifteen_yaml=text)
    line = _line_of(text, "three_level:")
    assert (
        f"fifteen.yaml:{line}: 1.000015.000.00.00.H36: not received in the three_level map (its received_at lists "
        "two_level)"
    ) in _problems(directory)


def test_a_catalogue_without_interconnected_procedures_needs_no_routes(tmp_path: Path) -> None:
    one_stop = PROCEDURES.replace("kind: interconnected", "kind: one_stop")
    catalog = load_catalog(_write(tmp_path, procedures_yaml=one_stop, routes__twelve_yaml="", routes__fifteen_yaml=""))
    assert catalog.routes() == []
    shutil.rmtree(tmp_path / "routes")
    assert load_catalog(tmp_path).routes() == []


# Bad route files in a copy of the sample ------------------------------------------------------------

LAND = "routes/land-change.yaml"
THREE_APPRAISE = "      budget: {amount: 4, unit: working_days}\n"
PAYMENT = "    - key: payment\n      name: Người sử dụng đất thực hiện nghĩa vụ tài chính\n      unit: land_office\n"


def _nth(old: str, new: str, n: int = 1) -> Callable[[str], str]:
    """Replace the n-th occurrence of ``old``."""

    def edit(text: str) -> str:
        at = -1
        for _ in range(n):
            at = text.index(old, at + 1)
        return text[:at] + new + text[at + len(old) :]

    return edit


BROKEN = [
    pytest.param(
        _nth(THREE_APPRAISE, THREE_APPRAISE.replace("4", "3.5")),
        ("three_level:", 1),
        f"{LAND_CHANGE}: the counting steps of the three_level route add up to 9.5 days, not the statutory "
        "10 working days",
        id="does-not-add-up",
    ),
    pytest.param(
        _nth("unit: land_office", "unit: district", 4),
        ("unit: district", 1),
        f"{LAND_CHANGE}: step 'appraise' of the two_level route: district cannot be resolved for commune "
        "H56.101, H56.102, H56.103: no district above H56.101 in the two_level map",
        id="no-district-after-the-reform",
    ),
    pytest.param(
        _nth("unit: land_office", "unit: {district_department: XYZ}"),
        ("XYZ", 1),
        f"{LAND_CHANGE}: step 'appraise' of the three_level route: district_department XYZ cannot be resolved for "
        "commune H56.14.01, H56.14.02, H56.14.03 and 3 more: no unit H56.14.XYZ in the catalogue",
        id="unknown-district-department",
    ),
    pytest.param(
        _nth("unit: land_office", "unit: {code: H56.14.TNMT}", 4),
        ("H56.14.TNMT", 1),
        f"{LAND_CHANGE}: step 'appraise' of the two_level route: unit H56.14.TNMT cannot be resolved for commune "
        "H56.101, H56.102, H56.103: H56.14.TNMT is not in the two_level map",
        id="named-unit-of-the-other-map",
    ),
    pytest.param(
        _nth("key: payment", "key: appraise"),
        ("key: appraise", 2),
        f"{LAND_CHANGE}: step key 'appraise' repeated in the three_level route (first at step 2)",
        id="repeated-key",
    ),
    pytest.param(
        lambda text: text[: text.index("  two_level:")],
        ("routes:", 1),
        f"{LAND_CHANGE}: no route for the two_level map, where the procedure is received",
        id="map-left-out",
    ),
    pytest.param(
        _nth(PAYMENT + "      counts: false\n", PAYMENT),
        ("key: payment", 1),
        "file: routes.three_level[3].budget: Value error, a counting step needs a budget greater than 0 "
        "(write counts: false if it does not count)",
        id="counting-step-without-budget",
    ),
    pytest.param(
        _nth("unit: land_office", "unit: land_ofice"),
        ("land_ofice", 1),
        "file: routes.three_level[1].unit: Input should be 'receiving', 'commune', 'district', 'province', "
        "'land_office', 'tax', 'social_insurance' or 'police'",
        id="unit-type-typo",
    ),
    pytest.param(
        _nth("unit: land_office", "unit: {department: H56.SYT}"),
        ("H56.SYT", 1),
        "file: routes.three_level[1].unit: expected a unit type (receiving, commune, district, province, "
        "land_office, tax, social_insurance, police), {district_department: SUFFIX} or {code: UNIT_CODE}",
        id="unit-form",
    ),
    pytest.param(
        _nth(THREE_APPRAISE, "      budget: {amount: 0.01, unit: working_hours}\n"),
        ("0.01", 1),
        "file: routes.three_level[1].budget.unit: Value error, 0.01 working_hours is not a whole number of "
        "working minutes (0.6)",
        id="budget-not-whole-minutes",
    ),
    pytest.param(
        _nth("external: tax", "external: gdt"),
        ("gdt", 1),
        "file: routes.three_level[2].external: Input should be 'land_registry', 'tax', 'residence' or "
        "'social_insurance'",
        id="external-system",
    ),
    pytest.param(
        _nth('version: "2025.1"', "version: 2025.1"),
        ("version:", 1),
        "file: version: Input should be a valid string",
        id="version-unquoted",
    ),
]


@pytest.mark.parametrize(("edit", "at", "message"), BROKEN)
def test_a_bad_route_file_names_the_file_and_line(
    tmp_path: Path, edit: Callable[[str], str], at: tuple[str, int], message: str
) -> None:
    directory = shutil.copytree(SAMPLE_DIR, tmp_path / "catalog")
    path = directory / LAND
    text = edit(path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    problems = _problems(directory)
    assert f"  {path}:{_line_of(text, *at)}: {message}\n" in problems + "\n", problems


def test_an_unknown_procedure_and_the_procedure_left_without_a_route(tmp_path: Path) -> None:
    directory = shutil.copytree(SAMPLE_DIR, tmp_path / "catalog")
    path = directory / LAND
    text = path.read_text(encoding="utf-8").replace(f"procedure: {LAND_CHANGE}", "procedure: 1.099999.000.00.00.H56")
    path.write_text(text, encoding="utf-8")
    problems = _problems(directory)
    assert f"{path}:{_line_of(text, 'procedure:')}: 1.099999.000.00.00.H56: unknown procedure" in problems
    procedures = (directory / "procedures.yaml").read_text(encoding="utf-8")
    kind_line = _line_of(procedures, "kind: interconnected")  # the land change is the first interconnected one
    assert _line_of(procedures, LAND_CHANGE) < kind_line
    assert (
        f"{directory / 'procedures.yaml'}:{kind_line}: {LAND_CHANGE}: an interconnected procedure needs its route "
        "for the three_level and two_level maps: no file of routes/ names it"
    ) in problems


def test_a_one_stop_procedure_has_no_route(tmp_path: Path) -> None:
    directory = shutil.copytree(SAMPLE_DIR, tmp_path / "catalog")
    text = (directory / LAND).read_text(encoding="utf-8").replace(LAND_CHANGE, "1.001193.000.00.00.H56")
    (directory / "routes/birth.yaml").write_text(text, encoding="utf-8")
    problems = _problems(directory)
    assert (
        f"{directory / 'routes/birth.yaml'}:{_line_of(text, 'procedure:')}: 1.001193.000.00.00.H56: a one_stop "
        "procedure is decided by the receiving unit and has no route; only interconnected procedures do"
    ) in problems


def test_two_files_for_one_procedure_and_a_yml_file(tmp_path: Path) -> None:
    directory = shutil.copytree(SAMPLE_DIR, tmp_path / "catalog")
    text = (directory / LAND).read_text(encoding="utf-8")
    copy = directory / "routes/zz-land-change.yaml"  # read after land-change.yaml: files are read in name order
    copy.write_text(text, encoding="utf-8")
    line = _line_of(text, "procedure:")
    assert (
        f"{copy}:{line}: {LAND_CHANGE}: routes already given for this procedure (at {directory / LAND}:{line})"
    ) in _problems(directory)
    copy.rename(copy.with_suffix(".yml"))
    assert f"{copy.with_suffix('.yml')}: use the .yaml extension" in _problems(directory)


def test_a_route_file_holds_a_mapping(tmp_path: Path) -> None:
    directory = _write(tmp_path, routes__fifteen_yaml="- procedure: 1.000015.000.00.00.H36\n")
    assert (
        f"{directory / 'routes/fifteen.yaml'}:1: expected a mapping of procedure, version and routes at the top "
        "of the file"
    ) in _problems(directory)
