"""Importing legacy dossiers: each history is replayed through the live commands, one dossier per transaction.

The format and the rules a history must follow are in ``services.intake.legacy``. Replaying through the
same command functions as the API means statuses, appointments (the 15:00 rule from the first accept),
timeline entries and events are those a live dossier would have had, each at the legacy business time.
A dossier is all or nothing: if any step fails, its transaction (and its code's sequence number) rolls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.intake import actions
from services.intake.filing import Filing, accept, existing_code, file_dossier
from services.intake.legacy import FieldError, LegacyAction, LegacyDossier, external_id_of, parse_legacy
from services.intake.schemas import ImportCounts, ImportOutcome, ImportReport, ImportResult
from services.intake.tables import Dossier
from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.web.auth import Principal
from shared.web.problems import Problem

Command = Callable[[UnitOfWork, Principal, str, Any], Awaitable[Dossier]]

_COMMANDS: dict[LegacyAction, Command] = {
    LegacyAction.REFUSE: actions.refuse,
    LegacyAction.REQUEST_SUPPLEMENT: actions.request_supplement,
    LegacyAction.SUPPLEMENT: actions.supplement,
    LegacyAction.SET_FINANCIAL_OBLIGATION: actions.set_financial_obligation,
    LegacyAction.PAY: actions.pay,
    LegacyAction.WITHDRAW: actions.withdraw,
    LegacyAction.STOP: actions.stop,
    LegacyAction.RETURN_RESULT: actions.return_result,
}


class Rejected(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


class AlreadyImported(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _at_step(problem: Problem, step: int) -> Rejected:
    """A command's problem as errors on the history step that caused it."""
    errors = problem.errors or [{"source": "body", "field": "action", "reason": problem.detail or problem.title}]
    located = []
    for e in errors:
        field = e.get("field", "")
        # The first step files the dossier: its fields are the dossier's, except the step's own time.
        if step > 0 or field in ("action", "occurred_at"):
            field = f"history.{step}.{field}"
        located.append({**e, "field": field})
    return Rejected(located)


async def replay(uow: UnitOfWork, filing: Filing, principal: Principal, legacy: LegacyDossier) -> Dossier:
    """File the dossier at its first action's time, then apply every later action at its own time."""
    first = legacy.history[0]
    try:
        dossier = await file_dossier(
            uow, filing, principal, legacy.to_create(), accept_now=first.action is LegacyAction.ACCEPT
        )
    except Problem as problem:
        if "existing_code" in problem.extra:
            raise AlreadyImported(str(problem.extra["existing_code"])) from problem
        raise _at_step(problem, 0) from problem
    for n, step in enumerate(legacy.history[1:], start=1):
        try:
            if step.action is LegacyAction.ACCEPT:
                dossier = await accept(uow, filing, principal, dossier.code, step)
            else:
                dossier = await _COMMANDS[step.action](uow, principal, dossier.code, step)
        except Problem as problem:
            raise _at_step(problem, n) from problem
    return dossier


async def _existing_codes(units: UnitOfWorkFactory, external_ids: Sequence[str]) -> dict[str, str]:
    """Codes of dossiers already filed with these external ids, by any key (the oldest if several)."""
    if not external_ids:
        return {}
    async with units.sessions() as session:
        rows = await session.exec(
            select(Dossier.external_id, Dossier.code)
            .where(col(Dossier.external_id).in_(set(external_ids)))
            .order_by(col(Dossier.received_at).desc())
        )
        return {external_id: code for external_id, code in rows.all() if external_id is not None}


async def _import_one(
    units: UnitOfWorkFactory, filing: Filing, principal: Principal, legacy: LegacyDossier
) -> tuple[ImportOutcome, str]:
    try:
        async with units() as uow:
            dossier = await replay(uow, filing, principal, legacy)
        return ImportOutcome.IMPORTED, dossier.code
    except AlreadyImported as exc:
        return ImportOutcome.ALREADY_IMPORTED, exc.code
    except IntegrityError:
        # The same external id imported concurrently by this key: the unique index caught it.
        async with units.sessions() as session:
            code = await existing_code(session, legacy.external_id)
        if code is None:
            raise
        return ImportOutcome.ALREADY_IMPORTED, code


async def import_dossiers(
    units: UnitOfWorkFactory, filing: Filing, principal: Principal, items: Sequence[object]
) -> ImportReport:
    """Import each item on its own: imported, already imported (by ``external_id``), or rejected with reasons."""
    now = datetime.now(UTC)
    parsed = [parse_legacy(item, now) for item in items]
    known = await _existing_codes(units, [p.external_id for p in parsed if isinstance(p, LegacyDossier)])
    results: list[ImportResult] = []
    for index, (item, legacy) in enumerate(zip(items, parsed, strict=True)):
        if not isinstance(legacy, LegacyDossier):
            results.append(_result(index, external_id_of(item), ImportOutcome.REJECTED, errors=legacy))
            continue
        code = known.get(legacy.external_id)
        if code is not None:
            results.append(_result(index, legacy.external_id, ImportOutcome.ALREADY_IMPORTED, code))
            continue
        try:
            outcome, code = await _import_one(units, filing, principal, legacy)
        except Rejected as exc:
            results.append(_result(index, legacy.external_id, ImportOutcome.REJECTED, errors=exc.errors))
            continue
        known[legacy.external_id] = code  # the same id again later in the batch is then "already imported"
        results.append(_result(index, legacy.external_id, outcome, code))
    counts = ImportCounts(**{o.value: sum(r.outcome == o for r in results) for o in ImportOutcome})
    return ImportReport(results=results, counts=counts)


def _result(
    index: int,
    external_id: str | None,
    outcome: ImportOutcome,
    code: str | None = None,
    errors: list[FieldError] | None = None,
) -> ImportResult:
    return ImportResult(index=index, external_id=external_id, outcome=outcome, code=code, errors=errors)
