"""Who may see and act on which step. No I/O here.

A unit's key (``unit:<code>``, or the one-stop desk's ``desk:<code>``) sees and acts on the steps its
unit holds; ``admin`` and ``import`` act on any step (as in intake); ``read`` reads everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.web.auth import Principal


def may_act(principal: Principal, unit_code: str) -> bool:
    return principal.has(f"unit:{unit_code}") or principal.has(f"desk:{unit_code}") or principal.has("import")


def may_read_unit(principal: Principal, unit_code: str) -> bool:
    return principal.has("read") or may_act(principal, unit_code)


def may_read_route(principal: Principal, unit_codes: Iterable[str]) -> bool:
    """A route is visible to ``read`` and to every unit that holds a step of it or received the dossier."""
    return principal.has("read") or any(may_act(principal, code) for code in unit_codes)
