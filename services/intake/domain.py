"""Intake's rules: dossier statuses, codes, and what a new dossier becomes. No I/O here."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class DossierStatus(StrEnum):
    """Statuses of DOMAIN.md, with the codes provincial systems exchange with the national portal."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    IN_PROGRESS = "in_progress"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    FINANCIAL_OBLIGATION = "financial_obligation"
    WITHDRAWN = "withdrawn"
    STOPPED = "stopped"
    RESOLVED = "resolved"
    RETURNED = "returned"

    @property
    def code(self) -> int:
        return _STATUS_CODES[self]


_STATUS_CODES = {status: n for n, status in enumerate(DossierStatus, start=1)}

_UNIT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,39}$")


def is_unit_code(value: str) -> bool:
    return bool(_UNIT_CODE.match(value))


def dossier_code(unit_code: str, received_at: datetime, sequence: int) -> str:
    """``{unit}-{yyMMdd}-{NNNN}``: the day is the receiving unit's local (Vietnam) date."""
    if sequence < 1:
        raise ValueError("sequence starts at 1")
    local_day = received_at.astimezone(VN_TZ).strftime("%y%m%d")
    return f"{unit_code}-{local_day}-{sequence:04d}"


def sequence_day(received_at: datetime) -> str:
    return received_at.astimezone(VN_TZ).strftime("%Y-%m-%d")
