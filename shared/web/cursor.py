"""Keyset pagination cursors: an opaque token holding the last row's (instant, id)."""

from __future__ import annotations

import base64
from datetime import datetime

from shared.web.problems import Problem


def encode_cursor(at: datetime, key: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{key}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (instant, id) a cursor holds, or a 422 problem naming the ``cursor`` query field."""
    try:
        at, key = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        after = datetime.fromisoformat(at)
        if after.utcoffset() is None:
            raise ValueError("naive time in cursor")
        return after, key
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(
            422,
            "Invalid request",
            "The cursor is not one this API returned.",
            errors=[{"source": "query", "field": "cursor", "reason": "malformed"}],
        ) from exc
