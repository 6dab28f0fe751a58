"""The catalogue's documentation: docs/catalog.schema.json matches the models, docs/catalog.md names
every field and value, and the sample catalogue (route files included) passes the exported JSON Schema."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel

from shared.catalog import SAMPLE_DIR, Procedure, RouteFile, Unit, load_catalog
from shared.catalog.json_schema import COMMAND, DOCS_PATH, catalog_json_schemas, main, render
from shared.catalog.models import Manifest

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"


def _types(annotation: object) -> Iterator[type]:
    """Every class named in an annotation, through Annotated, unions, tuples and mappings."""
    if isinstance(annotation, type):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _types(arg)


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [root]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.append(model)
        for info in model.model_fields.values():
            todo += [t for t in _types(info.annotation) if issubclass(t, BaseModel)]
    return found


def _field_names(root: type[BaseModel]) -> set[str]:
    """Field names as written in the YAML: the alias where there is one (``return``)."""
    return {info.alias or name for model in _models(root) for name, info in model.model_fields.items()}


def _enum_values(root: type[BaseModel]) -> set[str]:
    return {
        member.value
        for model in _models(root)
        for info in model.model_fields.values()
        for t in _types(info.annotation)
        if issubclass(t, StrEnum)
        for member in t
    }


def _in_code(text: str) -> set[str]:
    """Words written as code in the Markdown: `name`, or inside a fenced block."""
    spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
    return {word for span in spans for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span)}


def _jsonable(data: object) -> object:
    """YAML as JSON would carry it. yaml.safe_load turns 2025-07-01 into a date, which pydantic takes
    as is and JSON Schema (format "date") expects as its ISO text."""
    if isinstance(data, date):
        return data.isoformat()
    if isinstance(data, dict):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_jsonable(v) for v in data]
    return data


def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(catalog_json_schemas()[kind], format_checker=FormatChecker())


def _errors(kind: str, document: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator(kind).iter_errors(_jsonable(document))]


def _sample_files() -> list[tuple[str, Path]]:
    files = [("catalog", SAMPLE_DIR / "catalog.yaml")]
    for kind in ("units", "procedures"):
        single = SAMPLE_DIR / f"{kind}.yaml"
        files += [(kind, single)] if single.is_file() else []
        files += [(kind, path) for path in sorted((SAMPLE_DIR / kind).glob("*.yaml"))]
    files += [("routes", path) for path in sorted((SAMPLE_DIR / "routes").glob("*.yaml"))]
    return files


# (a) the exported schema is the models' ------------------------------------------------------


def test_exported_schema_is_up_to_date() -> None:
    assert DOCS_PATH.is_file(), f"{DOCS_PATH} is missing: run {COMMAND}"
    assert DOCS_PATH.read_text(encoding="utf-8") == render(), (
        f"{DOCS_PATH} differs from shared/catalog/models.py: run {COMMAND} and commit the result"
    )


def test_check_flag_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "catalog.schema.json"
    assert main(["--check", "--output", str(target)]) == 1
    assert main(["--output", str(target)]) == 0
    assert main(["--check", "--output", str(target)]) == 0
    target.write_text(render().replace('"minLength": 1', '"minLength": 2'), encoding="utf-8")
    assert main(["--check", "--output", str(target)]) == 1
    assert COMMAND in capsys.readouterr().err


def test_schemas_are_valid_json_schema() -> None:
    schemas = catalog_json_schemas()
    assert set(schemas) == {"catalog", "units", "procedures", "routes"}
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)


# (b) the prose names every field and value ----------------------------------------------------


@pytest.mark.parametrize("model", [Manifest, Unit, Procedure, RouteFile], ids=lambda m: m.__name__)
def test_doc_names_every_field(model: type[BaseModel]) -> None:
    missing = _field_names(model) - _in_code(DOC.read_text(encoding="utf-8"))
    assert not missing, f"docs/catalog.md does not name these {model.__name__} fields (as `code`): {sorted(missing)}"


@pytest.mark.parametrize("model", [Manifest, Unit, Procedure, RouteFile], ids=lambda m: m.__name__)
def test_doc_names_every_allowed_value(model: type[BaseModel]) -> None:
    missing = _enum_values(model) - _in_code(DOC.read_text(encoding="utf-8"))
    assert not missing, f"docs/catalog.md does not name these values of {model.__name__}: {sorted(missing)}"


def test_field_walk_reaches_nested_records() -> None:
    names = _field_names(Procedure)
    assert {"amount", "unit", "submit", "return", "copies", "original_required", "amount_vnd", "valid_to"} <= names
    assert {"working_days", "interconnected", "police", "two_level"} <= _enum_values(Procedure)
    assert "same_day" in _in_code(DOC.read_text(encoding="utf-8"))  # a Literal, not an enum: named by hand
    route_fields = _field_names(RouteFile)
    assert {
        "procedure",
        "version",
        "routes",
        "key",
        "budget",
        "counts",
        "external",
        "district_department",
    } <= route_fields
    assert {"receiving", "working_hours", "land_registry", "residence"} <= _enum_values(RouteFile)


def test_doc_covers_layout_and_setting() -> None:
    text = DOC.read_text(encoding="utf-8")
    for word in (
        "LIENTHONG_CATALOG_DIR",
        "catalog.yaml",
        "units/",
        "procedures/",
        "routes/",
        "catalog.schema.json",
        COMMAND,
        "services/routing/planning.py",
        "plan_route",
    ):
        assert word in text


# (c) the sample passes the exported schema ----------------------------------------------------


@pytest.mark.parametrize(("kind", "path"), _sample_files(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_sample_validates_against_exported_schema(kind: str, path: Path) -> None:
    assert _errors(kind, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_sample_loads() -> None:
    # The schema is weaker than the loader (no cross-field or cross-file rules): the sample must pass both.
    catalog = load_catalog(SAMPLE_DIR)
    assert catalog.procedures() and catalog.routes()
    assert any(kind == "routes" for kind, _ in _sample_files())


def _first_procedure() -> dict[str, Any]:
    procedures = yaml.safe_load((SAMPLE_DIR / "procedures.yaml").read_text(encoding="utf-8"))
    first: dict[str, Any] = procedures[0]
    return first


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"code": "1.001193.H56"}, "does not match", id="procedure-code"),
        pytest.param({"statutory": {"amount": 0, "unit": "working_days"}}, "is not valid under any", id="zero-days"),
        pytest.param({"statutory": "same day"}, "is not valid under any", id="same-day-typo"),
        pytest.param({"kind": "one-stop"}, "is not one of", id="kind"),
        pytest.param({"received_at": {"one_level": ["commune"]}}, "'one_level' is not one of", id="unknown-map"),
        pytest.param({"postal": {"submit": True, "returns": True}}, "Additional properties", id="postal-key"),
        pytest.param({"valid_from": "2025-02-30"}, "is not valid under any", id="bad-date"),
        pytest.param({"lĩnh_vực": "Hộ tịch"}, "Additional properties", id="unknown-key"),
    ],
)
def test_schema_rejects_broken_procedures(change: dict[str, Any], expected: str) -> None:
    errors = _errors("procedures", [{**_first_procedure(), **change}])
    assert any(expected in e for e in errors), errors


def _land_change_route() -> dict[str, Any]:
    route: dict[str, Any] = yaml.safe_load((SAMPLE_DIR / "routes" / "land-change.yaml").read_text(encoding="utf-8"))
    return route


def _with_first_step(change: dict[str, Any]) -> dict[str, Any]:
    route = _land_change_route()
    steps = route["routes"]["three_level"]
    return {**route, "routes": {"three_level": [{**steps[0], **change}, *steps[1:]]}}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param({**_land_change_route(), "version": 2025.1}, "is not of type 'string'", id="version-number"),
        pytest.param({**_land_change_route(), "routes": {"one_level": []}}, "'one_level' is not one of", id="map"),
        pytest.param({**_land_change_route(), "routes": {}}, "should be non-empty", id="no-route"),
        pytest.param(_with_first_step({"unit": "land_ofice"}), "is not valid under any", id="unit-type"),
        pytest.param(_with_first_step({"unit": {"department": "H56.SYT"}}), "is not valid under any", id="unit-form"),
        pytest.param(_with_first_step({"key": "Intake"}), "does not match", id="key"),
        pytest.param(_with_first_step({"external": "vilis"}), "is not valid under any", id="external"),
        pytest.param(_with_first_step({"budget": {"amount": 1, "unit": "days"}}), "is not valid under any", id="unit"),
        pytest.param(_with_first_step({"tên": "Tiếp nhận"}), "Additional properties", id="unknown-key"),
    ],
)
def test_schema_rejects_broken_route_files(document: dict[str, Any], expected: str) -> None:
    assert _errors("routes", _land_change_route()) == []
    errors = _errors("routes", document)
    assert any(expected in e for e in errors), errors


def test_schema_rejects_a_unit_without_maps() -> None:
    errors = _errors("units", [{"code": "H56.101", "name": "Phường Sơn Hà", "level": "commune", "parent": "H56"}])
    assert any("'maps' is a required property" in e for e in errors), errors


def test_empty_list_file_is_allowed_as_the_loader_allows_it() -> None:
    assert _errors("units", None) == []
    assert _errors("catalog", None) != []


def test_doc_says_what_the_loader_does_where_it_once_did_not() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "nearest territorial ancestor" in text and "nearest territorial ancestor" in (
        Unit.model_fields["serves"].description or ""
    )
    for stale in (
        "the parent's whole area",
        "checks only that the file exists",
        "does not demand that every commune be served",
        "currently loads with no parent",
        "statutory: Input should be",
        "reserved for per-procedure routes",
        "not read yet",
    ):
        assert stale not in text, stale
