"""Intake's commands: each changes one dossier and emits its event in one unit of work."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import TextClause, text

from services.intake.access import may_act
from services.intake.domain import VN_TZ, DossierStatus, dossier_code, sequence_day
from services.intake.lifecycle import Action, IllegalTransition, transition
from services.intake.tables import Dossier, TimelineEntry
from shared.bus.unit_of_work import UnitOfWork
from shared.events import new_envelope
from shared.events.dossier import Contact, NotificationChannel
from shared.web.audit import audit
from shared.web.auth import Principal
from shared.web.problems import Problem

PRODUCER = "intake"


def _issue(periods: int) -> TextClause:
    """Take the next number of a unit's sequence for each of ``periods`` periods, in one statement."""
    values = ", ".join(f"(:unit, :period{i}, 1)" for i in range(periods))
    return text(
        f"INSERT INTO dossier_sequence (unit_code, day, last_value) VALUES {values} "
        "ON CONFLICT (unit_code, day) DO UPDATE SET last_value = dossier_sequence.last_value + 1 "
        "RETURNING day, last_value"
    )


_ISSUE = {1: _issue(1), 2: _issue(2)}


async def _next_numbers(uow: UnitOfWork, unit_code: str, *periods: str) -> dict[str, int]:
    """The next number of a unit's sequence for each period; gap-free because it rolls back with the dossier."""
    params = {"unit": unit_code, **{f"period{i}": p for i, p in enumerate(periods)}}
    result = await uow.session.execute(_ISSUE[len(periods)], params)
    return {period: int(value) for period, value in result.all()}


def tracking_period(at: datetime) -> str:
    """The tracking book (sổ theo dõi) numbers a unit's receipts per year."""
    return str(at.astimezone(VN_TZ).year)


async def next_number(uow: UnitOfWork, unit_code: str, period: str) -> int:
    return (await _next_numbers(uow, unit_code, period))[period]


async def next_code(uow: UnitOfWork, unit_code: str, at: datetime) -> str:
    return dossier_code(unit_code, at, await next_number(uow, unit_code, sequence_day(at)))


async def next_code_and_number(uow: UnitOfWork, unit_code: str, at: datetime) -> tuple[str, int]:
    """A new dossier's code and its receipt's tracking number, in one statement (a desk accepts at once)."""
    day, year = sequence_day(at), tracking_period(at)
    issued = await _next_numbers(uow, unit_code, day, year)
    return dossier_code(unit_code, at, issued[day]), issued[year]


def contact_of(dossier: Dossier) -> Contact:
    return Contact(
        full_name=dossier.applicant_name,
        phone=dossier.applicant_phone,
        email=dossier.applicant_email,
        address=dossier.applicant_address,
        notification_channels=(
            [NotificationChannel(c) for c in dossier.notification_channels.split(",") if c]
            if dossier.notification_channels is not None
            else None
        ),
    )


@dataclass(frozen=True)
class Actor:
    principal: Principal

    @property
    def label(self) -> str:
        return f"{self.principal.name} ({self.principal.key_id})"


def record(
    uow: UnitOfWork, dossier: Dossier, actor: Actor | None, type: str, payload: BaseModel, occurred_at: datetime
) -> None:
    """Emit the event, append it to the dossier's timeline and, for a person's action, to the audit log."""
    envelope = new_envelope(
        type=type, dossier_code=dossier.code, producer=PRODUCER, payload=payload, occurred_at=occurred_at
    )
    uow.emit(envelope)
    detail = _timeline_detail(payload)
    uow.session.add(
        TimelineEntry(
            dossier_code=dossier.code,
            occurred_at=occurred_at,
            recorded_at=envelope.recorded_at,
            type=type,
            status=dossier.status,
            actor=actor.label if actor else "system",
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
    )
    if actor is not None:
        audit(uow, actor.principal, type, dossier.code, event_id=str(envelope.event_id))


_PERSONAL = {"applicant", "proxy"}


def _timeline_detail(payload: BaseModel) -> dict[str, Any]:
    return {k: v for k, v in payload.model_dump(mode="json").items() if k not in _PERSONAL}


async def load(uow: UnitOfWork, code: str) -> Dossier:
    dossier = await uow.session.get(Dossier, code)
    if dossier is None:
        raise Problem(404, "Dossier not found", f"No dossier has the code {code!r}.")
    return dossier


def change_status(dossier: Dossier, principal: Principal | None, action: Action, at: datetime) -> None:
    """Move the dossier through the lifecycle, or answer 403/409 saying why not."""
    if principal is not None and not may_act(principal, action, dossier.receiving_unit_code, dossier.submitted_by):
        raise Problem(
            403,
            "Forbidden",
            f"This API key may not {action.value.replace('_', ' ')} dossiers of unit {dossier.receiving_unit_code}.",
        )
    current = DossierStatus(dossier.status)
    paused_from = DossierStatus(dossier.paused_from) if dossier.paused_from else None
    try:
        moved = transition(current, action, paused_from)
    except IllegalTransition as exc:
        raise Problem(
            409, "Not allowed in this status", str(exc), dossier_status=current.value, dossier_status_code=current.code
        ) from exc
    dossier.status = moved.status.value
    dossier.paused_from = moved.paused_from.value if moved.paused_from else None
    dossier.updated_at = at
