"""A sandbox public postal operator (BCCI): pickup and delivery orders, tracking numbers, status webhooks.

- ``POST /postal/orders`` (Bearer token, ``Idempotency-Key`` required) → 201 ``{order_id, tracking_number,
  status: "created"}``; the same key again → 200 with the first answer; the same key with another body → 409;
- ``GET /postal/orders``, ``GET /postal/orders/{order_id}``;
- ``POST /sandbox/postal/orders/{tracking_number}/advance {status, note}`` moves the order on and sends the
  signed webhook ``{event_id, tracking_number, order_id, status, at, note}`` to ``{callback}/v1/postal/webhooks``,
  answering with the order and what notify answered;
- ``POST /sandbox/postal/auto {enabled, delay_s}``: advance new pickups to picked_up and deliveries to
  delivered by itself (``make run``).

Tracking numbers look like VNPost's: ``EL`` + an 8-digit serial + the UPU S10 check digit + ``VN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.notify.sandbox.control import DroppedResponse, Failures, hang
from services.notify.sandbox.receipts import Webhooks, now_iso

NAME = "postal"
FINAL = frozenset({"delivered", "returned", "failed"})
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_tracking_number(serial: int, prefix: str = "EL", country: str = "VN") -> str:
    """A UPU S10 item identifier: two letters, eight digits, a check digit, the country code."""
    digits = f"{serial:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, _S10_WEIGHTS, strict=True)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"{prefix}{digits}{check}{country}"


class OrderIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=100)
    kind: Literal["pickup", "delivery"]
    dossier_code: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    address: str = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=1000)


class AdvanceIn(BaseModel):
    status: Literal["picked_up", "in_transit", "delivered", "returned", "failed"]
    note: str | None = Field(default=None, max_length=500)


class AutoIn(BaseModel):
    enabled: bool
    delay_s: float = Field(default=1.0, ge=0, le=3600)


class PostalOperator:
    def __init__(self, webhooks: Webhooks, *, auto_delay_s: float | None = None) -> None:
        self.webhooks = webhooks
        self.by_key: dict[str, dict[str, Any]] = {}
        self.by_tracking: dict[str, dict[str, Any]] = {}
        self.auto_enabled = auto_delay_s is not None
        self.auto_delay_s = auto_delay_s if auto_delay_s is not None else 1.0
        self._serial = random.randint(10_000_000, 60_000_000)

    def create(self, key: str, body: OrderIn) -> dict[str, Any]:
        self._serial += 1
        order = {
            **body.model_dump(),
            "tracking_number": s10_tracking_number(self._serial),
            "status": "created",
            "created_at": now_iso(),
            "history": [{"status": "created", "at": now_iso(), "note": None}],
            "idempotency_key": key,
            "answer": None,
        }
        order["answer"] = {k: order[k] for k in ("order_id", "tracking_number", "status")}
        self.by_key[key] = order
        self.by_tracking[order["tracking_number"]] = order
        if self.auto_enabled:
            target = "picked_up" if body.kind == "pickup" else "delivered"
            self.webhooks.background(self._advance_later(order["tracking_number"], target))
        return order

    def by_order_id(self, order_id: str) -> dict[str, Any] | None:
        return next((o for o in self.by_key.values() if o["order_id"] == order_id), None)

    async def _advance_later(self, tracking_number: str, status: str) -> None:
        await asyncio.sleep(self.auto_delay_s)
        with contextlib.suppress(HTTPException):  # advanced by hand to a final status meanwhile
            await self.advance(tracking_number, AdvanceIn.model_validate({"status": status}), retry=True)

    async def advance(self, tracking_number: str, body: AdvanceIn, *, retry: bool = False) -> dict[str, Any]:
        order = self.by_tracking.get(tracking_number)
        if order is None:
            raise HTTPException(404, f"no order with tracking number {tracking_number}")
        if order["status"] in FINAL:
            raise HTTPException(409, f"the order is {order['status']} already")
        at = now_iso()
        order["status"] = body.status
        order["history"].append({"status": body.status, "at": at, "note": body.note})
        payload = {
            "event_id": str(uuid.uuid4()),
            "tracking_number": tracking_number,
            "order_id": order["order_id"],
            "status": body.status,
            "at": at,
            "note": body.note,
        }
        webhook = await self.webhooks.post("postal", NAME, "/v1/postal/webhooks", payload, retry=retry)
        return {"order": _public(order), "webhook": webhook}


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k != "answer"}


def postal_router(postal: PostalOperator, *, token: str, failures: Failures) -> APIRouter:
    router = APIRouter()

    def check(authorization: str) -> None:
        if authorization != f"Bearer {token}":
            raise HTTPException(401, "bad token")

    @router.post("/postal/orders")
    async def create_order(
        body: OrderIn,
        request: Request,
        authorization: str = Header(default=""),
        idempotency_key: str = Header(default="", alias="Idempotency-Key"),
    ) -> Response:
        check(authorization)
        if not idempotency_key:
            return JSONResponse({"error": "the Idempotency-Key header is required"}, status_code=400)
        failure = failures.take(NAME)
        mode = failure.mode if failure else "ok"
        if mode == "error":
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        if mode == "reject":
            return JSONResponse({"error": "the address is outside the served area"}, status_code=422)
        if mode == "timeout":
            await hang(request)
            return JSONResponse({"error": "gave up"}, status_code=504)
        if failure is not None and mode == "slow":
            await asyncio.sleep(failure.delay_s)
        existing = postal.by_key.get(idempotency_key)
        if existing is not None:
            if OrderIn.model_validate(existing).model_dump() != body.model_dump():
                return JSONResponse({"error": "Idempotency-Key reused for another order"}, status_code=409)
            return JSONResponse(existing["answer"], status_code=200)
        order = postal.create(idempotency_key, body)
        if mode == "accept_then_drop":
            return DroppedResponse(201)
        return JSONResponse(order["answer"], status_code=200 if mode == "duplicate" else 201)

    @router.get("/postal/orders")
    async def list_orders(dossier_code: str | None = None) -> list[dict[str, Any]]:
        return [_public(o) for o in postal.by_key.values() if dossier_code in (None, o["dossier_code"])]

    @router.get("/postal/orders/{order_id}")
    async def get_order(order_id: str, authorization: str = Header(default="")) -> dict[str, Any]:
        check(authorization)
        order = postal.by_order_id(order_id)
        if order is None:
            raise HTTPException(404, "no such order")
        return _public(order)

    @router.post("/sandbox/postal/orders/{tracking_number}/advance")
    async def advance(tracking_number: str, body: AdvanceIn) -> dict[str, Any]:
        return await postal.advance(tracking_number, body)

    @router.post("/sandbox/postal/auto")
    async def auto(body: AutoIn) -> dict[str, Any]:
        postal.auto_enabled, postal.auto_delay_s = body.enabled, body.delay_s
        return {"enabled": postal.auto_enabled, "delay_s": postal.auto_delay_s}

    return router
