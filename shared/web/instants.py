"""An instant in a query string: ISO 8601 with its UTC offset, and nothing else. Pydantic would also read a
bare number (``?to=0.5``) as a Unix time, and an instant without an offset cannot be placed."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    if isinstance(value, str) and not _ISO_START.match(value):
        raise ValueError("an instant is written in ISO 8601 with its offset, e.g. 2026-11-01T08:00:00+07:00")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
