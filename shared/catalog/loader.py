"""Read a catalogue directory: files, then records, then the checks across them.

Layout (see docs/catalog.md)::

    catalog.yaml              version, the maps of local government and their dates, calendar overrides
    units.yaml | units/       units (a list per file)
    procedures.yaml | procedures/
    routes/*.yaml             optional: one file per interconnected procedure, its route in each map
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from shared.calendar.overrides import OverridesError, parse_overrides
from shared.catalog.catalog import Catalog
from shared.catalog.checks import (
    duplicate_codes,
    procedure_references,
    sector_coverage,
    unit_periods,
    unit_references,
)
from shared.catalog.errors import CatalogError, Problem
from shared.catalog.models import Manifest, Procedure, Unit
from shared.catalog.route_checks import route_problems
from shared.catalog.routes import RouteFile, routes_of
from shared.catalog.schema import Entry, M, validate_list, validate_one
from shared.catalog.yaml_lines import YamlDocument, load_yaml

ENV_VAR = "LIENTHONG_CATALOG_DIR"
SAMPLE_DIR = Path(__file__).parent / "sample"
MANIFEST = "catalog.yaml"
COLLECTIONS = ("units", "procedures")
ROUTES = "routes"


def default_catalog_dir() -> Path:
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else SAMPLE_DIR


def load_catalog(directory: Path) -> Catalog:
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError([Problem(directory, None, "the catalogue directory does not exist")])
    problems: list[Problem] = []
    manifest_doc = _read(directory / MANIFEST, problems)
    docs = {
        name: [d for path in _files(directory, name, problems) if (d := _read(path, problems))] for name in COLLECTIONS
    }
    route_docs = [d for path in _route_files(directory, problems) if (d := _read(path, problems))]
    if manifest_doc is None or problems:
        raise CatalogError(problems)

    manifest, found = validate_one(Manifest, manifest_doc, manifest_doc.data)
    problems += found
    units = _validate_all(Unit, docs["units"], "units", problems)
    procedures = _validate_all(Procedure, docs["procedures"], "procedures", problems)
    routes = _validate_routes(route_docs, problems)
    if manifest is None or problems:
        raise CatalogError(problems)

    problems += duplicate_codes(units, "unit") + duplicate_codes(procedures, "procedure")
    problems += unit_references(manifest.record, units) + unit_periods(manifest.record, units)
    calendar = _calendar_overrides(directory, manifest, problems)
    problems += _unknown_files(directory, calendar)
    _stop_if(problems)

    catalog = Catalog(
        directory=directory,
        maps=manifest.record.maps,
        units=[e.record for e in units],
        procedures=[e.record for e in procedures],
        calendar_overrides=calendar,
        routes=[r for e in routes for r in routes_of(e.record)],
    )
    problems += sector_coverage(catalog, units) + procedure_references(manifest.record, procedures, catalog)
    _stop_if(problems)
    problems += route_problems(manifest.record, routes, procedures, catalog)
    _stop_if(problems)
    return catalog


def _validate_all(model: type[M], docs: list[YamlDocument], what: str, problems: list[Problem]) -> list[Entry[M]]:
    entries: list[Entry[M]] = []
    for doc in docs:
        found, wrong = validate_list(model, doc, what)
        entries += found
        problems += wrong
    return entries


def _validate_routes(docs: list[YamlDocument], problems: list[Problem]) -> list[Entry[RouteFile]]:
    """Each route file holds one mapping; an empty file holds no route."""
    entries: list[Entry[RouteFile]] = []
    for doc in docs:
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            problems.append(
                doc.problem((), "expected a mapping of procedure, version and routes at the top of the file")
            )
            continue
        entry, found = validate_one(RouteFile, doc, doc.data)
        problems += found
        entries += [entry] if entry is not None else []
    return entries


def _unknown_files(directory: Path, calendar: Path | None) -> list[Problem]:
    known = {MANIFEST, *(f"{name}.yaml" for name in COLLECTIONS)}
    return [
        Problem(path, None, f"not a catalogue file: expected {', '.join(sorted(known))} or a directory")
        for path in sorted(directory.iterdir())
        if path.suffix in {".yaml", ".yml"} and path.name not in known and path != calendar
    ]


def _read(path: Path, problems: list[Problem]) -> YamlDocument | None:
    if not path.is_file():
        problems.append(Problem(path, None, "missing"))
        return None
    try:
        return load_yaml(path)
    except CatalogError as e:
        problems += e.problems
        return None


def _files(directory: Path, name: str, problems: list[Problem]) -> list[Path]:
    single = directory / f"{name}.yaml"
    folder = directory / name
    files = [single] if single.is_file() else []
    if folder.is_dir():
        files += sorted(folder.glob("*.yaml"))
        problems += [Problem(p, None, "use the .yaml extension") for p in sorted(folder.glob("*.yml"))]
    if not files:
        problems.append(Problem(single, None, f"missing: put the {name} in {name}.yaml or {name}/*.yaml"))
    return files


def _route_files(directory: Path, problems: list[Problem]) -> list[Path]:
    """The files of routes/, in name order; none when the directory is absent."""
    folder = directory / ROUTES
    if not folder.is_dir():
        return []
    problems += [Problem(p, None, "use the .yaml extension") for p in sorted(folder.glob("*.yml"))]
    return sorted(folder.glob("*.yaml"))


def _calendar_overrides(directory: Path, manifest: Entry[Manifest], problems: list[Problem]) -> Path | None:
    """The overrides file named in catalog.yaml, read now as the calendar will read it (JSON, then
    shared.calendar.overrides.parse_overrides), so a bad file stops the catalogue, not the service later."""
    if manifest.record.calendar_overrides is None:
        return None
    path = directory / manifest.record.calendar_overrides
    if not path.exists():
        problems.append(manifest.problem(f"calendar_overrides: {path} does not exist", "calendar_overrides"))
    elif not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        problems.append(manifest.problem(f"calendar_overrides: {path} is {kind}, not a file", "calendar_overrides"))
    else:
        problems += _overrides_problems(path)
    return path


def _overrides_problems(path: Path) -> list[Problem]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        return [Problem(path, None, f"calendar overrides: cannot be read: {e.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return [Problem(path, raw[: e.start].count(b"\n") + 1, "not UTF-8 text")]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        return [Problem(path, e.lineno, f"calendar overrides: not JSON: {e.msg}")]
    try:
        parse_overrides(document, "calendar overrides")
    except OverridesError as e:
        return [Problem(path, None, str(e))]
    return []


def _stop_if(problems: list[Problem]) -> None:
    if problems:
        raise CatalogError(problems)
