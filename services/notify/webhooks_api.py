"""What providers call back: delivery receipts, citizens' inbound SMS keywords, postal status webhooks.

Each request is signed by the provider (HMAC-SHA256 of the timestamp and the body, shared/web/signing.py)
with its own secret; a bad or stale signature is 401, an unknown provider 404, and a replayed receipt is
answered 200 with ``"outcome": "replay"`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services.notify.context import notify_of
from services.notify.receipts import apply_inbound_sms, apply_postal_webhook, apply_receipt
from services.notify.tables import ProviderReceipt
from shared.bus.unit_of_work import UnitOfWork
from shared.web.deps import UnitsDep
from shared.web.problems import Problem
from shared.web.signed_body import signed_body

router = APIRouter(prefix="/v1", tags=["provider callbacks"])
ProviderName = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")]


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    receipt_id: str = Field(min_length=1, max_length=100)
    reference: str = Field(min_length=1, max_length=100, description="Our notification id.")
    message_id: str | None = Field(default=None, max_length=200)
    status: Literal["delivered", "failed"]
    error: str | None = Field(default=None, max_length=500)
    at: AwareDatetime


class InboundSmsIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    sender: str = Field(alias="from", min_length=3, max_length=20)
    text: str = Field(max_length=1600)
    message_id: str = Field(min_length=1, max_length=100)
    received_at: AwareDatetime | None = None


class PostalWebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=100)
    tracking_number: str = Field(min_length=1, max_length=40)
    order_id: str | None = Field(default=None, max_length=36)
    status: Literal["picked_up", "in_transit", "delivered", "returned", "failed"]
    at: AwareDatetime
    note: str | None = Field(default=None, max_length=500)


class CallbackOutcome(BaseModel):
    outcome: str = Field(examples=["applied", "replay", "unknown", "final", "ignored", "opt-out"])


def _secret(request: Request, provider: str) -> str:
    s = request.app.state.runtime.settings
    secrets = {
        "sms-a": s.sms_receipt_secret,
        "sms-b": s.sms_b_receipt_secret,
        "zalo": s.zalo_receipt_secret,
        "postal": s.postal_webhook_secret,
    }
    if provider not in secrets:
        raise Problem(404, "Unknown provider", f"No provider is called {provider!r}.")
    return str(secrets[provider])


async def _once(
    units: UnitsDep, provider: str, receipt_id: str, apply: Callable[[UnitOfWork], Awaitable[str]]
) -> CallbackOutcome:
    for _ in range(3):
        try:
            async with units() as uow:
                outcome = await apply(uow)
            return CallbackOutcome(outcome=outcome)
        except IntegrityError:
            async with units.sessions() as session:
                if await session.get(ProviderReceipt, (provider, receipt_id)) is not None:
                    # The same receipt, delivered twice at once: the other request recorded it.
                    return CallbackOutcome(outcome="replay")
            raise
        except StaleDataError:
            continue  # the sender recorded the same notification meanwhile: apply it again
    raise Problem(503, "Busy", "The notification kept changing; send the callback again.", headers={"Retry-After": "1"})


CALLBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong signature, or a timestamp too far from now (replay)"},
    404: {"description": "No provider of that name"},
    422: {"description": "Invalid body, field by field"},
    503: {"description": "The notification kept changing; send the callback again (Retry-After)"},
}


@router.post(
    "/receipts/{provider}",
    response_model=CallbackOutcome,
    responses=CALLBACK_ERRORS,
    summary="A provider's delivery receipt",
)
async def receipt(provider: ProviderName, request: Request, units: UnitsDep) -> CallbackOutcome:
    body = await signed_body(request, _secret(request, provider), ReceiptIn)
    notify = notify_of(request)
    return await _once(
        units,
        provider,
        body.receipt_id,
        lambda uow: apply_receipt(
            uow,
            notify,
            provider=provider,
            receipt_id=body.receipt_id,
            reference=body.reference,
            delivered=body.status == "delivered",
            error=body.error,
            at=body.at,
        ),
    )


@router.post(
    "/inbound-sms/{provider}",
    response_model=CallbackOutcome,
    responses=CALLBACK_ERRORS,
    summary="A citizen's SMS to the brandname",
)
async def inbound_sms(provider: ProviderName, request: Request, units: UnitsDep) -> CallbackOutcome:
    body = await signed_body(request, _secret(request, provider), InboundSmsIn)
    return await _once(
        units,
        provider,
        f"inbound:{body.message_id}",
        lambda uow: apply_inbound_sms(
            uow, provider=provider, message_id=body.message_id, sender=body.sender, text=body.text
        ),
    )


@router.post(
    "/postal/webhooks",
    response_model=CallbackOutcome,
    responses={k: v for k, v in CALLBACK_ERRORS.items() if k != 404},
    summary="The postal operator's order status",
)
async def postal_webhook(request: Request, units: UnitsDep) -> CallbackOutcome:
    notify = notify_of(request)
    body = await signed_body(request, _secret(request, "postal"), PostalWebhookIn)
    at: datetime = body.at
    return await _once(
        units,
        "postal",
        body.event_id,
        lambda uow: apply_postal_webhook(
            uow,
            notify,
            event_id=body.event_id,
            tracking_number=body.tracking_number,
            order_id=body.order_id,
            status=body.status,
            at=at,
            note=body.note,
        ),
    )
