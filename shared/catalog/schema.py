"""Turn YAML documents into records, each error placed on the line of the field at fault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from shared.catalog.errors import Problem
from shared.catalog.yaml_lines import Loc, YamlDocument

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Entry(Generic[M]):
    """A validated record and where it was written."""

    record: M
    doc: YamlDocument
    loc: Loc

    def problem(self, message: str, *fields: str | int) -> Problem:
        return self.doc.problem((*self.loc, *fields), message)

    @property
    def where(self) -> str:
        return f"{self.doc.path}:{self.doc.line(self.loc)}"


def validate_one(
    model: type[M], doc: YamlDocument, data: object, loc: Loc = ()
) -> tuple[Entry[M] | None, list[Problem]]:
    try:
        return Entry(model.model_validate(data), doc, loc), []
    except ValidationError as e:
        label = _label(data, loc)
        problems = []
        for err in _meaningful(e.errors()):
            where = (*loc, *err["loc"])
            missing = err["type"] == "missing" or _left_out(data, err["loc"])
            field = _readable(doc, loc, err["loc"], missing=missing)
            problems.append(doc.problem(where, f"{label}: {field}{err['msg']}"))
        return None, problems


def validate_list(model: type[M], doc: YamlDocument, what: str) -> tuple[list[Entry[M]], list[Problem]]:
    if doc.data is None:
        return [], []
    if not isinstance(doc.data, list):
        return [], [doc.problem((), f"expected a list of {what} at the top of the file")]
    entries: list[Entry[M]] = []
    problems: list[Problem] = []
    for i, item in enumerate(doc.data):
        entry, found = validate_one(model, doc, item, (i,))
        problems += found
        if entry is not None:
            entries.append(entry)
    return entries, problems


def _label(data: object, loc: Loc) -> str:
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(code, str):
        return code
    return f"entry {loc[0] + 1}" if loc and isinstance(loc[0], int) else "file"


def _meaningful(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Leave out "too short" for a list whose items failed: pydantic counts only the valid ones."""
    return [
        err
        for err in errors
        if err["type"] != "too_short"
        or not any(other["loc"][: len(err["loc"])] == err["loc"] and other is not err for other in errors)
    ]


def _left_out(data: object, loc: tuple[str | int, ...]) -> bool:
    """Whether the error is on a key the file leaves out of a mapping it writes: a default that failed
    its validator (``validate_default``), reported like a missing field."""
    if not loc or not isinstance(loc[-1], str):
        return False
    current = data
    for part in loc[:-1]:  # a part that is not a node (a union member name pydantic adds) is passed over
        if isinstance(current, dict):
            current = current.get(part, current)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
    return isinstance(current, dict) and loc[-1] not in current


def _readable(doc: YamlDocument, base: Loc, loc: tuple[str | int, ...], *, missing: bool) -> str:
    """The field path as written in the file, without the union member names pydantic adds.

    A part is kept when it is a node below the parts kept so far, so a field under a union member name
    (``statutory`` → ``time`` → ``unit``) keeps its full path: ``statutory.unit``.
    """
    kept: list[str | int] = []
    for i, part in enumerate(loc):
        if (*base, *kept, part) in doc.lines or (missing and i == len(loc) - 1):
            kept.append(part)
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in kept).lstrip(".")
    return f"{text}: " if text else ""
