"""What external systems do through their signed callbacks, and the connector's dead letters.

- An acknowledgement ends the interconnection: the handover's row records when (``acknowledged_at``) and
  the working minutes it took, and the acknowledgement is the step's acceptance (if the unit has not
  accepted it already) — the unit works in that system. ``handover.acknowledged`` is published once; a
  repeated callback changes nothing.
- A completion finishes the step through the same command as the unit's ``/complete``; a completion of a
  step never acknowledged acknowledges it first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.routing import actions
from services.routing.commands import emit, move
from services.routing.connector_rules import DeliveryStatus
from services.routing.context import Routing
from services.routing.domain import interconnection_minutes
from services.routing.lifecycle import StepAction, StepStatus
from services.routing.schemas import AcknowledgementIn, CompleteIn, CompletionIn, DeliveryRef
from services.routing.tables import ConnectorDeadLetter, Handover, HandoverDelivery, Step
from shared.bus.unit_of_work import UnitOfWork
from shared.db import SessionMaker
from shared.events.step import HandoverAcknowledged, StepAccepted
from shared.web.audit import audit
from shared.web.auth import Principal
from shared.web.business_time import CLOCK_SKEW
from shared.web.problems import Problem


def handover_ref(h: Handover) -> dict[str, object]:
    """The StepEvent fields of the step a handover row is about."""
    return {
        "step_id": uuid.UUID(h.step_id),
        "seq": h.seq,
        "attempt": h.attempt,
        "step_key": h.step_key or None,
        "unit_code": h.to_unit_code,
        "unit_level": h.to_unit_level,
    }


def external_principal(delivery: HandoverDelivery, unit_code: str) -> Principal:
    """Who acts when a signed callback arrives: the external system, on the step's unit's behalf, at the
    business time it reports (hence ``import``, which allows a past ``occurred_at``)."""
    return Principal(
        key_id=f"ext:{delivery.external_system}"[:32],
        name=f"external system {delivery.external_system}",
        scopes=frozenset({f"unit:{unit_code}", "import"}),
    )


async def find_delivery(session: AsyncSession, ref: DeliveryRef) -> HandoverDelivery:
    if ref.delivery_id is not None:
        delivery = await session.get(HandoverDelivery, str(ref.delivery_id))
    elif ref.step_id is not None and ref.attempt is not None:
        query = select(HandoverDelivery).where(
            col(HandoverDelivery.step_id) == str(ref.step_id), col(HandoverDelivery.attempt) == ref.attempt
        )
        delivery = (await session.exec(query)).first()
    else:
        raise Problem(
            422,
            "Invalid request",
            "Name the delivery by delivery_id, or by step_id and attempt.",
            errors=[{"source": "body", "field": "delivery_id", "reason": "delivery_id or step_id + attempt"}],
        )
    if delivery is None:
        raise Problem(404, "Delivery not found", "No handover was delivered under that id.")
    return delivery


def _business_time(at: datetime, field: str) -> datetime:
    if at > datetime.now(UTC) + CLOCK_SKEW:
        raise Problem(
            422,
            "Invalid request",
            f"{field} is in the future.",
            errors=[{"source": "body", "field": field, "reason": "must not be in the future"}],
        )
    return at


async def acknowledge(uow: UnitOfWork, routing: Routing, body: AcknowledgementIn) -> HandoverDelivery:
    delivery = await find_delivery(uow.session, body)
    if delivery.acknowledged_at is not None:
        return delivery  # a repeated callback: nothing changes
    handover = await uow.session.get(Handover, delivery.handover_id)
    step = await uow.session.get(Step, delivery.step_id)
    assert handover is not None and step is not None  # written with the delivery
    at = max(_business_time(body.acknowledged_at, "acknowledged_at"), handover.handed_over_at)
    now = datetime.now(UTC)
    delivery.acknowledged_at = at
    delivery.external_reference = body.external_reference
    if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.DEAD):
        delivery.status = DeliveryStatus.ACKNOWLEDGED.value
    delivery.next_attempt_at = delivery.ack_due_at = None
    delivery.updated_at = now
    uow.session.add(delivery)
    handover.acknowledged_at = at
    handover.external_reference = body.external_reference
    handover.interconnection_minutes = interconnection_minutes(
        routing.calendar, handover.handed_over_at, now, acknowledged_at=at, accepted_at=handover.accepted_at
    )
    principal = external_principal(delivery, step.unit_code)
    emit(
        uow,
        delivery.dossier_code,
        "handover.acknowledged",
        HandoverAcknowledged(
            **handover_ref(handover),
            external_system=delivery.external_system,
            handed_over_at=handover.handed_over_at,
            acknowledged_at=at,
            external_reference=body.external_reference,
            delivery_id=uuid.UUID(delivery.id),
            interconnection_minutes=handover.interconnection_minutes,
        ),
        at,
    )
    audit(uow, principal, "handover.acknowledged", delivery.dossier_code, delivery_id=delivery.id)
    if step.attempt == delivery.attempt and step.status == StepStatus.ASSIGNED.value:
        # The external system's acknowledgement is the step's acceptance.
        when = max(at, step.changed_at or at)
        move(step, StepAction.ACCEPT, when)
        step.accepted_at = when
        uow.session.add(step)
        await uow.session.flush()  # the step's version decides a race with the unit's own accept
        handover.accepted_at = when
        emit(uow, step.dossier_code, "step.accepted", StepAccepted(**handover_ref(handover), accepted_at=when), when)
        audit(uow, principal, "step.accepted", step.dossier_code, step_id=step.id, attempt=step.attempt)
    return delivery


async def complete(uow: UnitOfWork, routing: Routing, body: CompletionIn) -> tuple[HandoverDelivery, Step]:
    delivery = await find_delivery(uow.session, body)
    step = await uow.session.get(Step, delivery.step_id)
    assert step is not None
    if delivery.completed_at is not None:
        return delivery, step  # a repeated callback: nothing changes
    if step.attempt != delivery.attempt:
        raise Problem(
            409,
            "Handover superseded",
            f"The step was handed over again (attempt {step.attempt}); this delivery is attempt {delivery.attempt}.",
            step_status=step.status,
        )
    finished_at = _business_time(body.finished_at, "finished_at")
    if delivery.acknowledged_at is None:
        ack = AcknowledgementIn(
            delivery_id=uuid.UUID(delivery.id), external_reference=body.external_reference, acknowledged_at=finished_at
        )
        await acknowledge(uow, routing, ack)
    delivery.completed_at = datetime.now(UTC)
    delivery.updated_at = delivery.completed_at
    uow.session.add(delivery)
    principal = external_principal(delivery, step.unit_code)
    finished = CompleteIn(
        outcome=body.outcome, note=body.note, occurred_at=max(finished_at, step.changed_at or finished_at)
    )
    await actions.complete(uow, routing, principal, step.id, finished)
    return delivery, step


# ---- dead letters ---------------------------------------------------------------------------------------


async def list_dead_letters(sessions: SessionMaker, include_replayed: bool = False) -> list[ConnectorDeadLetter]:
    async with sessions() as session:
        query = select(ConnectorDeadLetter).order_by(col(ConnectorDeadLetter.id))
        if not include_replayed:
            query = query.where(col(ConnectorDeadLetter.replayed_at).is_(None))
        return list((await session.exec(query)).all())


async def replay_dead_letters(sessions: SessionMaker, ids: Sequence[int] | None) -> list[int]:
    """Send the deliveries again (once the cause is fixed): due now, failures reset; the letters are kept,
    marked replayed. A delivery acknowledged or closed since is not sent again."""
    now = datetime.now(UTC)
    replayed: list[int] = []
    async with sessions() as session, session.begin():
        query = select(ConnectorDeadLetter).where(col(ConnectorDeadLetter.replayed_at).is_(None))
        if ids is not None:
            query = query.where(col(ConnectorDeadLetter.id).in_(list(ids)))
        for letter in (await session.exec(query.order_by(col(ConnectorDeadLetter.id)))).all():
            letter.replayed_at = now
            session.add(letter)
            assert letter.id is not None
            replayed.append(letter.id)
            delivery = await session.get(HandoverDelivery, letter.delivery_id)
            if delivery is None or delivery.status != DeliveryStatus.DEAD.value:
                continue
            delivery.status = (
                DeliveryStatus.DELIVERED if delivery.delivered_at is not None else DeliveryStatus.PENDING
            ).value
            delivery.failures = 0
            delivery.next_attempt_at = now
            delivery.updated_at = now
            session.add(delivery)
    return replayed
