"""Placeholders in template text, and the values put into them. Pure code.

A placeholder is ``{name}``: a Python identifier, no attribute, index, conversion or format spec
(``{{`` and ``}}`` are literal braces). Values are formatted by type:

- ``str`` as given (NFC), ``list``/``tuple`` of ``str`` joined with ``"; "``;
- ``int``: an amount of money, ``1.250.000 đồng``, when the placeholder's name ends with ``_vnd``, else
  its digits (``bool`` is refused);
- aware ``datetime`` in Vietnam's time as ``08:30 ngày 07/04/2026`` (a naive one is refused);
  ``date`` as ``07/04/2026``.

Placeholders whose names end with ``_code``, ``_link`` or ``_number`` hold identifiers (a dossier code, a
URL, a postal tracking number): they are never cut, and a value longer than declared is refused. Any
other value longer than declared is cut to the declared length, ending with ``…``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from string import Formatter

from shared.calendar import VIETNAM_TZ

ELLIPSIS = "…"
IDENTIFIER_SUFFIXES = ("_code", "_link", "_number")
MONEY_SUFFIX = "_vnd"
_FORMATTER = Formatter()


class TemplateDataError(ValueError):
    """The values given to render a template are missing, undeclared, ill-typed or unusable."""


def placeholders_in(text: str) -> list[str]:
    """The placeholder names used in ``text``, in order; ValueError naming the fault if one is malformed."""
    names: list[str] = []
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as e:
        raise ValueError(f"malformed placeholder ({e})") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} is not a plain name")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} has a conversion or format spec")
        names.append(name)
    return names


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every placeholder replaced by its value (all of them must be in ``values``)."""
    out: list[str] = []
    for literal, name, _spec, _conversion in _FORMATTER.parse(text):
        out.append(literal)
        if name is not None:
            out.append(values[name])
    return "".join(out)


def is_identifier(name: str) -> bool:
    return name.endswith(IDENTIFIER_SUFFIXES)


def vn_datetime(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise TemplateDataError(f"naive datetime {at.isoformat()}: the instant is unknown")
    local = at.astimezone(VIETNAM_TZ)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def vn_date(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def vn_money(amount: int) -> str:
    """``1250000`` → ``1.250.000 đồng`` (Vietnamese groups thousands with dots)."""
    digits = f"{abs(amount):,}".replace(",", ".")
    return f"{'-' if amount < 0 else ''}{digits} đồng"


def format_value(name: str, value: object) -> str:
    """The text of ``value`` for the placeholder ``name``; TemplateDataError for a type it cannot show."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        raise TemplateDataError(f"{name}: a yes/no value cannot be shown")
    elif isinstance(value, int):
        text = vn_money(value) if name.endswith(MONEY_SUFFIX) else str(value)
    elif isinstance(value, datetime):
        try:
            text = vn_datetime(value)
        except TemplateDataError as e:
            raise TemplateDataError(f"{name}: {e}") from None
    elif isinstance(value, date):
        text = vn_date(value)
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        text = "; ".join(item.strip() for item in value)
    else:
        raise TemplateDataError(f"{name}: cannot show a {type(value).__name__}")
    return unicodedata.normalize("NFC", text)


def fit(name: str, text: str, max_length: int) -> str:
    """``text`` within ``max_length`` characters: cut with ``…``, or refused if it is an identifier."""
    if len(text) <= max_length:
        return text
    if is_identifier(name):
        raise TemplateDataError(f"{name}: {len(text)} characters, more than the {max_length} declared")
    return text[: max_length - 1].rstrip() + ELLIPSIS


def one_line(text: str) -> str:
    """For an email subject: line breaks (a header injection) become spaces."""
    return " ".join(text.split())
