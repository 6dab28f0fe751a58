"""The external systems' signed callbacks: acknowledgements and completions of the steps handed over to them.

No API key: each request is signed with the shared secret (``X-Lienthong-Signature`` over the timestamp and
the raw body, see signing.py) and refused with 401 when the signature is wrong or the timestamp is more than
five minutes old. Each callback is idempotent by its delivery: a repeated one answers the same and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.orm.exc import StaleDataError

from services.routing import external
from services.routing.context import Routing, routing_of
from services.routing.schemas import AcknowledgementIn, CompletionIn, ExternalCallbackOut
from services.routing.tables import HandoverDelivery, Step
from services.routing.views import local
from shared.bus.unit_of_work import UnitOfWork
from shared.web.deps import UnitsDep
from shared.web.signed_body import signed_body
from shared.web.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

router = APIRouter(prefix="/v1/external", tags=["external systems"])

Body = TypeVar("Body", bound=BaseModel)
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong signature, or a timestamp more than five minutes away (replay)"},
    404: {"description": "No such delivery"},
    409: {"description": "The step moved on (handed over again, or not open)"},
    422: {"description": "Invalid body, field by field"},
}
SIGNED_BODY = {
    "parameters": [
        {"name": TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
    ],
}


async def signed(request: Request, routing: Routing, model: type[Body]) -> Body:
    """The body, once its signature and timestamp are verified (the raw bytes, before any parsing)."""
    return await signed_body(request, routing.external.secret, model)


def _answer(delivery: HandoverDelivery, step: Step) -> ExternalCallbackOut:
    return ExternalCallbackOut(
        delivery_id=delivery.id,
        dossier_code=delivery.dossier_code,
        step_id=delivery.step_id,
        attempt=delivery.attempt,
        external_system=delivery.external_system,
        delivery_status=delivery.status,
        acknowledged_at=local(delivery.acknowledged_at),
        completed_at=local(delivery.completed_at),
        step_status=step.status,
    )


async def _run(
    units: UnitsDep, command: Callable[[UnitOfWork], Awaitable[tuple[HandoverDelivery, Step]]]
) -> ExternalCallbackOut:
    # The connector records the POST's answer on the same delivery row while the system may already be
    # calling back; the callback is idempotent, so a lost race is run again on fresh rows.
    for attempt in range(_CALLBACK_ATTEMPTS):
        try:
            async with units() as uow:
                delivery, step = await command(uow)
            return _answer(delivery, step)
        except StaleDataError:
            if attempt == _CALLBACK_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


_CALLBACK_ATTEMPTS = 5


@router.post(
    "/acknowledgements",
    response_model=ExternalCallbackOut,
    responses=ERRORS,
    openapi_extra={
        **SIGNED_BODY,
        "requestBody": {"content": {"application/json": {"schema": AcknowledgementIn.model_json_schema()}}},
    },
    summary="An external system acknowledges a handover (signed)",
    description="Records when the system acknowledged the handover on the process control slip and the working "
    "minutes the interconnection took; the acknowledgement is the step's acceptance. Publishes "
    "`handover.acknowledged` once.",
)
async def acknowledge(request: Request, units: UnitsDep) -> ExternalCallbackOut:
    routing = routing_of(request)
    body = await signed(request, routing, AcknowledgementIn)

    async def command(uow: UnitOfWork) -> tuple[HandoverDelivery, Step]:
        delivery = await external.acknowledge(uow, routing, body)
        step = await uow.session.get(Step, delivery.step_id)
        assert step is not None
        return delivery, step

    return await _run(units, command)


@router.post(
    "/completions",
    response_model=ExternalCallbackOut,
    responses=ERRORS,
    openapi_extra={
        **SIGNED_BODY,
        "requestBody": {"content": {"application/json": {"schema": CompletionIn.model_json_schema()}}},
    },
    summary="An external system finished a step handed over to it (signed)",
    description="The same command as the unit's `/complete`: the next unit gets the dossier at `finished_at`, "
    "or the dossier is resolved. A step never acknowledged is acknowledged first.",
)
async def complete(request: Request, units: UnitsDep) -> ExternalCallbackOut:
    routing = routing_of(request)
    body = await signed(request, routing, CompletionIn)

    async def command(uow: UnitOfWork) -> tuple[HandoverDelivery, Step]:
        return await external.complete(uow, routing, body)

    return await _run(units, command)
