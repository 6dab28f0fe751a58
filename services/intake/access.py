"""Who may do what to which dossier. No I/O here."""

from __future__ import annotations

from services.intake.lifecycle import Action
from shared.web.auth import Principal

_DESK_ONLY = {
    Action.ACCEPT,
    Action.REFUSE,
    Action.REQUEST_SUPPLEMENT,
    Action.SUPPLEMENT,
    Action.SET_FINANCIAL_OBLIGATION,
    Action.PAY,
    Action.STOP,
    Action.RETURN_RESULT,
}


def is_desk_of(principal: Principal, unit_code: str) -> bool:
    return principal.has(f"desk:{unit_code}") or principal.has("import")


def may_act(principal: Principal, action: Action, unit_code: str, submitted_by: str) -> bool:
    if is_desk_of(principal, unit_code):
        return True
    if action in _DESK_ONLY:
        return False
    return action is Action.WITHDRAW and principal.has("portal") and submitted_by == principal.key_id


def may_read(principal: Principal, unit_code: str, submitted_by: str) -> bool:
    return (
        principal.has("read")
        or is_desk_of(principal, unit_code)
        or (principal.has("portal") and submitted_by == principal.key_id)
    )


def may_submit(principal: Principal, unit_code: str) -> bool:
    return principal.has("portal") or is_desk_of(principal, unit_code)


def accepts_at_once(principal: Principal, unit_code: str) -> bool:
    """A desk files an accepted dossier (status 2); a portal's waits for a desk (status 1)."""
    return is_desk_of(principal, unit_code)
