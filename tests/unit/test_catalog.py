"""The procedure catalogue: the bundled sample, its lookups, and bad files stopping start-up at the right line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shared.catalog import (
    SAMPLE_DIR,
    Catalog,
    CatalogError,
    ProcedureKind,
    StatutoryTime,
    TimeUnit,
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
- code: H36.02
  name: Xã Hai
  level: commune
  parent: H36
  maps: [two_level]
- code: H36.CN1
  name: Chi nhánh Văn phòng đăng ký đất đai khu vực 1
  level: land_office
  parent: H36
  maps: [two_level]
  serves: [H36.01, H36.02]
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
