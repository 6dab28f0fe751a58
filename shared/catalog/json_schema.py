"""JSON Schema of the catalogue's documents, generated from the records in shared/catalog/models.py and routes.py.

One schema per kind of file: ``catalog.yaml``, a units file, a procedures file and a route file. The schemas say
what each record may hold; the validators that compare fields of one record and the checks across
records (shared/catalog/checks.py) are not expressed in them. See docs/catalog.md.

    python -m shared.catalog.json_schema           # write docs/catalog.schema.json
    python -m shared.catalog.json_schema --check   # exit 1 if that file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.catalog.models import Manifest, Procedure, Unit
from shared.catalog.routes import RouteFile

_ROUTE_FILE = "routes/*.yaml: one interconnected procedure's route in each map it is received in."
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "catalog.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMMAND = "python -m shared.catalog.json_schema"


def _record_file(model: type[BaseModel], description: str | None = None) -> dict[str, Any]:
    schema = model.model_json_schema()
    if description is not None:
        schema["description"] = description
    return schema


def _list_file(model: type[BaseModel], what: str, files: str) -> dict[str, Any]:
    item = model.model_json_schema()
    defs = item.pop("$defs", {})
    schema: dict[str, Any] = {
        "title": f"{model.__name__} list",
        "description": f"{files}: a list of {what}; an empty file holds none.",
        "type": ["array", "null"],
        "items": item,
    }
    if defs:
        schema["$defs"] = defs  # the items' "#/$defs/..." references resolve against this schema
    return schema


def catalog_json_schemas() -> dict[str, dict[str, Any]]:
    """File kind → the JSON Schema of one such file, each a schema resource of its own."""
    schemas = {
        "catalog": _record_file(Manifest),
        "units": _list_file(Unit, "units", "units.yaml or units/*.yaml"),
        "procedures": _list_file(Procedure, "procedures", "procedures.yaml or procedures/*.yaml"),
        "routes": _record_file(RouteFile, _ROUTE_FILE),
    }
    return {
        kind: {"$schema": DIALECT, "$id": f"urn:lienthong:catalog:{kind}", **schema} for kind, schema in schemas.items()
    }


def schema_document() -> dict[str, Any]:
    """The content of docs/catalog.schema.json."""
    return {
        "$comment": (
            f"Generated from shared/catalog/models.py and routes.py by `{COMMAND}`; do not edit. "
            "One JSON Schema per kind of catalogue file; see docs/catalog.md."
        ),
        **catalog_json_schemas(),
    }


def render() -> str:
    return json.dumps(schema_document(), indent=2, ensure_ascii=False) + "\n"


def is_current(path: Path = DOCS_PATH) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == render()


def write(path: Path = DOCS_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Write or check docs/catalog.schema.json.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the models")
    parser.add_argument("--output", type=Path, default=DOCS_PATH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        if not is_current(args.output):
            print(
                f"{args.output} is out of date with shared/catalog/models.py and routes.py (run: {COMMAND})",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output} is up to date")
        return 0
    write(args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
