"""The procedure catalogue: the bundled sample, its lookups, and bad files stopping start-up at the right line."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from services.intake.directory import CatalogDirectory
from services.intake.domain import VN_TZ
from shared.calendar import vietnam_calendar
from shared.catalog import (
    SAMPLE_DIR,
    Catalog,
    CatalogError,
    ProcedureKind,
    StatutoryTime,
    TimeUnit,
    Unit,
    UnitLevel,
    UnitMap,
    default_catalog_dir,
    load_catalog,
)

BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)


@pytest.fixture(scope="module")
def sample() -> Catalog:
    return load_catalog(SAMPLE_DIR)


def test_the_sample_holds_both_maps_with_the_cut_over_as_data(sample: Catalog) -> None:
    assert sample.unit_map_at(BEFORE) is UnitMap.THREE_LEVEL
    assert sample.unit_map_at(AFTER) is UnitMap.TWO_LEVEL
    before = {u.level for u in sample.units(UnitMap.THREE_LEVEL, BEFORE)}
    after = {u.level for u in sample.units(UnitMap.TWO_LEVEL, AFTER)}
    assert {UnitLevel.COMMUNE, UnitLevel.DISTRICT, UnitLevel.PROVINCE, UnitLevel.DEPARTMENT} <= before
    assert {UnitLevel.LAND_OFFICE, UnitLevel.TAX, UnitLevel.SOCIAL_INSURANCE, UnitLevel.POLICE} <= before & after
    assert UnitLevel.DISTRICT not in after
    communes_before = [u for u in sample.units(UnitMap.THREE_LEVEL, BEFORE) if u.level is UnitLevel.COMMUNE]
    communes_after = [u for u in sample.units(UnitMap.TWO_LEVEL, AFTER) if u.level is UnitLevel.COMMUNE]
    assert len(communes_after) < len(communes_before) == 6
    assert not {u.code for u in communes_before} & {u.code for u in communes_after}
    assert sample.unit("H56.14").name == "Ủy ban nhân dân thành phố Sơn Hà"
    assert sample.calendar_overrides is None


@pytest.mark.parametrize(
    "fragment",
    [
        "Đăng ký biến động quyền sử dụng đất",
        "cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất lần đầu",
        "trợ cấp xã hội hàng tháng",
        "Hỗ trợ chi phí mai táng",
        "đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế",
        "đăng ký khai tử, xóa đăng ký thường trú",
        "Cấp giấy phép xây dựng",
        "Đăng ký thành lập hộ kinh doanh",
        "Chứng thực bản sao từ bản chính",
        "Đăng ký kết hôn",
        "Đăng ký khai sinh",
        "Đăng ký thường trú",
    ],
)
def test_the_sample_has_the_common_procedures(sample: Catalog, fragment: str) -> None:
    assert any(fragment in p.name for p in sample.procedures())


def test_sample_procedures_are_consistent(sample: Catalog) -> None:
    procedures = sample.procedures()
    assert len(procedures) >= 12
    assert all(p.code.endswith(".H56") for p in procedures)
    land_change = sample.procedure("1.012777.000.00.00.H56")
    assert land_change.kind is ProcedureKind.INTERCONNECTED
    assert land_change.statutory == StatutoryTime(amount=10, unit=TimeUnit.WORKING_DAYS)
    assert sample.procedure("1.001193.000.00.00.H56").same_day
    assert UnitLevel.DISTRICT in sample.procedure("1.009994.000.00.00.H56").received_at[UnitMap.THREE_LEVEL]
    bundles = [p for p in procedures if p.name.startswith("Liên thông")]
    assert len(bundles) == 2 and all(p.kind is ProcedureKind.INTERCONNECTED for p in bundles)


def test_the_land_office_serving_a_commune_depends_on_the_map_in_force(sample: Catalog) -> None:
    assert sample.serving(UnitLevel.LAND_OFFICE, "H56.14.05", BEFORE).code == "H56.14.VPDK"
    assert sample.serving(UnitLevel.LAND_OFFICE, "H56.102", AFTER).code == "H56.VPDK.01"
    assert sample.serving(UnitLevel.LAND_OFFICE, "H56.103", AFTER).code == "H56.VPDK.02"
    assert sample.serving(UnitLevel.TAX, "H56.14.05", BEFORE).code == "H56.14.THUE"
    assert sample.serving(UnitLevel.POLICE, "H56.103", AFTER).code == "H56.103.CA"
    with pytest.raises(LookupError, match="not a commune of the two_level map"):
        sample.serving(UnitLevel.LAND_OFFICE, "H56.14.05", AFTER)
    with pytest.raises(ValueError, match="not a sector level"):
        sample.serving(UnitLevel.DEPARTMENT, "H56.103", AFTER)


def test_the_parent_chain_ends_at_the_province(sample: Catalog) -> None:
    assert [u.code for u in sample.ancestors("H56.14.01")] == ["H56.14", "H56"]
    assert [u.code for u in sample.ancestors("H56.101")] == ["H56"]
    assert sample.ancestors("H56") == []


def test_the_environment_variable_overrides_the_bundled_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIENTHONG_CATALOG_DIR", raising=False)
    assert default_catalog_dir() == SAMPLE_DIR
    _write(tmp_path)
    monkeypatch.setenv("LIENTHONG_CATALOG_DIR", str(tmp_path))
    assert default_catalog_dir() == tmp_path
    assert [p.code for p in load_catalog(default_catalog_dir()).procedures()] == ["1.001193.000.00.00.H36"]


MANIFEST = """\
version: 1
maps:
  three_level: {valid_to: 2025-07-01}
  two_level: {valid_from: 2025-07-01}
"""

UNITS = """\
- code: H36
  name: Ủy ban nhân dân tỉnh Thử
  level: province
  maps: [three_level, two_level]
- code: H36.01
  name: Xã Một
  level: commune
  parent: H36
  maps: [two_level]
  valid_from: 2025-07-01
- code: H36.02
  name: Xã Hai
  level: commune
  parent: H36
  maps: [two_level]
  valid_from: 2025-07-01
- code: H36.CN1
  name: Chi nhánh Văn phòng đăng ký đất đai khu vực 1
  level: land_office
  parent: H36
  maps: [two_level]
  serves: [H36.01, H36.02]
  valid_from: 2025-07-01
"""

PROCEDURES = """\
- code: 1.001193.000.00.00.H36
  name: Đăng ký khai sinh
  field: Hộ tịch
  statutory: same_day
  kind: one_stop
  received_at: {two_level: [commune]}
  channels: [in_person, postal]
  postal: {submit: true, return: false}
  result_delivery: [desk]
  online_level: none
  documents:
    - name: Giấy chứng sinh
      copies: 1
      original_required: true
"""

SECOND_LAND_OFFICE = """\
- code: H36.CN2
  name: Chi nhánh Văn phòng đăng ký đất đai khu vực 2
  level: land_office
  parent: H36
  maps: [two_level]
  serves: [H36.02]
  valid_from: 2025-07-01
"""


def _write(directory: Path, **files: str) -> None:
    contents = {"catalog.yaml": MANIFEST, "units.yaml": UNITS, "procedures.yaml": PROCEDURES}
    contents.update({name.replace("__", "/").replace("_yaml", ".yaml"): text for name, text in files.items()})
    for name, text in contents.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def test_the_minimal_catalogue_loads(tmp_path: Path) -> None:
    _write(tmp_path)
    catalog = load_catalog(tmp_path)
    assert catalog.serving(UnitLevel.LAND_OFFICE, "H36.02", AFTER).code == "H36.CN1"


BROKEN = [
    pytest.param("units.yaml", UNITS.replace("name: Xã Hai", "name: Xã: Hai"), "Xã: Hai", "YAML", id="yaml-syntax"),
    pytest.param(
        "procedures.yaml", PROCEDURES.replace("copies: 1", "copies: two"), "copies: two", "valid integer", id="type"
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("  name: Xã Hai\n", "  name: Xã Hai\n  colour: red\n"),
        "colour",
        "Extra inputs",
        id="unknown-field",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("parent: H36\n  maps: [two_level]\n  serves", "parent: H36.99\n  maps: [two_level]\n  serves"),
        "H36.99",
        "unknown parent H36.99",
        id="unknown-parent",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("code: H36.02", "code: H36.01"),
        "code: H36.01",
        "duplicate unit code",
        id="duplicate",
    ),
    pytest.param(
        "procedures.yaml",
        PROCEDURES.replace("1.001193.000.00.00.H36", "1.001193.000.00.H36"),
        "1.001193.000.00.H36",
        "should match pattern",
        id="procedure-code",
    ),
    pytest.param("units.yaml", UNITS + SECOND_LAND_OFFICE, "serves: [H36.02]", "already served", id="served-twice"),
    pytest.param(
        "procedures.yaml",
        PROCEDURES.replace("submit: true", "submit: false"),
        "postal:",
        "postal.submit",
        id="postal-without-submit",
    ),
    pytest.param(
        "catalog.yaml",
        MANIFEST + "calendar_overrides: days-off.yaml\n",
        "calendar_overrides",
        "does not exist",
        id="calendar-missing",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("  level: commune\n  parent: H36\n", "  level: commune\n  parent: H36.CN1\n", 1),
        "parent: H36.CN1",
        "parent is a district or province",
        id="commune-under-sector-unit",
    ),
    pytest.param(
        "procedures.yaml",
        PROCEDURES.replace("{two_level: [commune]}", "{two_level: [district]}"),
        "received_at",
        "no district unit",
        id="level-not-in-map",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("  level: province\n", "  level: province\n  level: commune\n"),
        "level: commune",
        "repeated",
        id="repeated-key",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("  name: Xã Hai\n  level: commune\n  parent: H36\n", "  name: Xã Hai\n  level: commune\n"),
        "code: H36.02",
        "parent: Value error, a commune unit needs a parent",
        id="parent-left-out",
    ),
    pytest.param(
        "procedures.yaml",
        PROCEDURES.replace("statutory: same_day", "statutory: {amount: .inf, unit: working_days}"),
        "statutory:",
        "statutory.amount: Input should be a finite number",
        id="infinite-time",
    ),
    pytest.param(
        "procedures.yaml",
        PROCEDURES.replace("statutory: same_day", "statutory: {amount: .nan, unit: working_days}"),
        "statutory:",
        "statutory.amount: Input should be a finite number",
        id="nan-time",
    ),
    pytest.param(
        "procedures.yaml",
        PROCEDURES.replace("statutory: same_day", "statutory:\n    amount: 10\n    unit: working_dayz"),
        "unit: working_dayz",
        "statutory.unit: Input should be 'working_days' or 'calendar_days'",
        id="time-unit-misspelt",
    ),
    pytest.param(
        "units.yaml",
        UNITS + "- code: H36.03\n  name: Xã Ba\n  level: commune\n  parent: H36\n  maps: [two_level]\n"
        "  valid_from: 2025-07-01\n",
        "code: H36.03",
        "H36.03: no land_office unit of the two_level map serves this commune from 2025-07-01",
        id="commune-not-served",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace(
            "  serves: [H36.01, H36.02]\n  valid_from: 2025-07-01",
            "  serves: [H36.01, H36.02]\n  valid_from: 2026-01-01",
        ),
        "code: H36.01",
        "no land_office unit of the two_level map serves this commune from 2025-07-01 to 2025-12-31",
        id="commune-not-served-for-a-while",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("valid_from: 2025-07-01", "valid_from: 2025-06-01", 1),
        "valid_from: 2025-06-01",
        "H36.01: holds from 2025-06-01 to 2025-06-30, when none of its maps (two_level) does",
        id="unit-before-its-map",
    ),
    pytest.param(
        "units.yaml",
        UNITS.replace("  maps: [two_level]\n  valid_from: 2025-07-01\n", "  maps: [two_level]\n", 1),
        "code: H36.01",
        "H36.01: holds before 2025-07-01, when none of its maps (two_level) does",
        id="unit-without-dates-in-a-dated-map",
    ),
    pytest.param(
        "catalog.yaml",
        MANIFEST + "calendar_overrides: /etc/lienthong/days-off.json\n",
        "calendar_overrides",
        "calendar_overrides: Value error, a path relative to the catalogue directory",
        id="calendar-absolute",
    ),
]


@pytest.mark.parametrize(("file", "text", "needle", "message"), BROKEN)
def test_a_bad_file_names_the_file_and_line(tmp_path: Path, file: str, text: str, needle: str, message: str) -> None:
    _write(tmp_path, **{file.replace(".yaml", "_yaml"): text})
    expected = _line_of(text, needle, occurrence=2 if "duplicate" in message else 1)
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    problems = [p for p in raised.value.problems if message in p.message]
    assert problems, str(raised.value)
    assert f"{tmp_path / file}:{expected}: " in str(raised.value)
    assert problems[0].line == expected and problems[0].path == tmp_path / file


def test_units_may_be_split_over_a_directory(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "units.yaml").unlink()
    (tmp_path / "units").mkdir()
    head, tail = UNITS.split("- code: H36.02")
    (tmp_path / "units" / "a.yaml").write_text(head, encoding="utf-8")
    (tmp_path / "units" / "b.yaml").write_text("- code: H36.02" + tail, encoding="utf-8")
    assert len(load_catalog(tmp_path).units()) == 4


def test_a_missing_file_and_a_stray_one_are_reported(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "procedures.yaml").unlink()
    (tmp_path / "unit.yaml").write_text("[]", encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    assert "procedures.yaml: missing" in str(raised.value)
    with pytest.raises(CatalogError, match=r"unit\.yaml: not a catalogue file"):
        (tmp_path / "procedures.yaml").write_text(PROCEDURES, encoding="utf-8")
        load_catalog(tmp_path)


def test_a_unit_outside_the_maps_is_reported_on_its_dates_or_its_maps(tmp_path: Path) -> None:
    manifest = MANIFEST.replace("two_level: {valid_from: 2025-07-01}", "two_level: {valid_from: 2025-09-01}")
    _write(tmp_path, catalog_yaml=manifest, units_yaml=UNITS.replace("2025-07-01", "2025-09-01"))
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)  # the province holds always, but no map holds in July and August 2025
    assert [(p.line, p.message) for p in raised.value.problems] == [
        (4, "H36: holds from 2025-07-01 to 2025-08-31, when none of its maps (three_level, two_level) does")
    ]


def test_a_sector_unit_without_serves_covers_its_nearest_territorial_ancestor(tmp_path: Path) -> None:
    tax = (
        "- code: H36.STC\n  name: Sở Tài chính\n  level: department\n  parent: H36\n  maps: [two_level]\n"
        "  valid_from: 2025-07-01\n"
        "- code: H36.THUE\n  name: Thuế cơ sở 1\n  level: tax\n  parent: H36.STC\n  maps: [two_level]\n"
        "  valid_from: 2025-07-01\n"
    )
    _write(tmp_path, units_yaml=UNITS + tax)
    catalog = load_catalog(tmp_path)
    assert catalog.communes_served("H36.THUE", UnitMap.TWO_LEVEL) == {"H36.01", "H36.02"}
    assert catalog.serving(UnitLevel.TAX, "H36.01", AFTER).code == "H36.THUE"


def test_the_serves_description_says_what_the_lookup_does() -> None:
    description = Unit.model_fields["serves"].description or ""
    assert "nearest territorial ancestor" in description and "parent's whole area" not in description


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    _write(
        tmp_path,
        catalog_yaml=MANIFEST + "colour: red\n",
        units_yaml=UNITS.replace("level: province", "level: provinc"),
        procedures_yaml=PROCEDURES.replace("kind: one_stop", "kind: one-stop"),
    )
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    assert [p.path.name for p in raised.value.problems] == ["catalog.yaml", "units.yaml", "procedures.yaml"]


OVERRIDES = {"years": {"2026": {"days_off": [{"date": "2026-12-31", "name": "Nghỉ thử", "source": "tệp thử"}]}}}


def test_the_calendar_overrides_file_is_read_with_the_catalogue(tmp_path: Path) -> None:
    _write(tmp_path, catalog_yaml=MANIFEST + "calendar_overrides: days-off.json\n")
    (tmp_path / "days-off.json").write_text(json.dumps(OVERRIDES, ensure_ascii=False), encoding="utf-8")
    catalog = load_catalog(tmp_path)
    assert catalog.calendar_overrides == tmp_path / "days-off.json"
    assert not vietnam_calendar(catalog.calendar_overrides).is_working_day(date(2026, 12, 31))


@pytest.mark.parametrize(
    ("name", "content", "where", "message"),
    [
        pytest.param("days-off.yaml", "years:\n  '2026': {}\n", ("days-off.yaml", 1), "not JSON", id="yaml"),
        pytest.param(
            "days-off.json", '{\n  "years": {\n    "2026": {,}\n  }\n}\n', ("days-off.json", 3), "not JSON", id="syntax"
        ),
        pytest.param(
            "days-off.json",
            '{"years": {"26": {}}}',
            ("days-off.json", None),
            "calendar overrides: years.26: a year is four digits",
            id="content",
        ),
        pytest.param("days-off.json", b"{\n\xff}", ("days-off.json", 2), "not UTF-8 text", id="encoding"),
        pytest.param("days-off.json", None, ("catalog.yaml", 5), "is a directory, not a file", id="directory"),
    ],
)
def test_a_bad_calendar_overrides_file_is_a_catalogue_error(
    tmp_path: Path, name: str, content: str | bytes | None, where: tuple[str, int | None], message: str
) -> None:
    _write(tmp_path, catalog_yaml=MANIFEST + f"calendar_overrides: {name}\n")
    if content is None:
        (tmp_path / name).mkdir()
    else:
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    [problem] = raised.value.problems
    assert (problem.path.name, problem.line) == where
    assert message in problem.message


def test_intake_receives_only_at_a_unit_of_the_map_in_force(sample: Catalog) -> None:
    directory = CatalogDirectory(sample)
    permit = "1.009994.000.00.00.H56"  # {three_level: [district], two_level: [commune]}
    after, before = datetime(2025, 8, 1, 9, tzinfo=VN_TZ), datetime(2025, 6, 30, 9, tzinfo=VN_TZ)
    assert directory.receives(permit, "H56.101", after)
    assert not directory.receives(permit, "H56.14.01", after)  # a commune, but of the three-level map
    assert directory.receives(permit, "H56.14", before)
    assert not directory.receives(permit, "H56.101", before)


def test_intake_receives_nothing_on_a_day_no_map_holds(tmp_path: Path) -> None:
    _write(
        tmp_path,
        catalog_yaml="version: 1\nmaps:\n  two_level: {valid_from: 2025-07-01}\n",
        units_yaml=UNITS.replace("maps: [three_level, two_level]", "maps: [two_level]\n  valid_from: 2025-07-01"),
    )
    directory = CatalogDirectory(load_catalog(tmp_path))
    birth = "1.001193.000.00.00.H36"
    assert directory.receives(birth, "H36.01", datetime(2025, 7, 1, 9, tzinfo=VN_TZ))
    assert not directory.receives(birth, "H36.01", datetime(2025, 6, 30, 9, tzinfo=VN_TZ))
