"""Citizen-facing Vietnamese text sla writes: the reason for a delay."""

from __future__ import annotations

from collections.abc import Callable

from services.sla.clock import DossierClock
from shared.events.clock import Overrun, Party

UnitName = Callable[[str | None], str]


def apology_reason(clock: DossierClock, party: Overrun | None, unit_name: UnitName) -> str:
    """Why the dossier will be late, naming the unit or the broken handover."""
    if party is None or party.minutes == 0:
        current = clock.current
        where = f" tại {unit_name(current.unit_code)}" if current else ""
        return f"Thời gian còn lại không đủ để hoàn thành các bước xử lý{where} theo quy trình"
    step = next((a for a in clock.attempts if a.seq == party.step_seq and a.attempt == party.attempt), None)
    step_text = f"“{step.name}”" if step and step.name else "xử lý"
    if party.party is Party.INTERCONNECTION:
        return f"Lỗi liên thông khi chuyển hồ sơ đến {unit_name(party.unit_code)} (bước {step_text})"
    return f"Bước {step_text} tại {unit_name(party.unit_code)} quá thời hạn giải quyết"
