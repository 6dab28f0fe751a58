"""A sandbox brand-name SMS operator, the HTTP API ``HttpSmsProvider`` speaks. Two are mounted: ``/sms``
(operator "sms-a") and ``/sms-b`` ("sms-b").

- ``POST /messages`` (Bearer token) ``{reference, to, text, brandname}`` → 202 ``{message_id}``; a reference
  it already has → 409 ``{message_id: <the original>, duplicate: true}``;
- ``GET /messages?to=&reference=``: what it received; ``GET /messages/{reference}`` (Bearer token): one
  message, or 404.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.notify.sandbox.control import DroppedResponse, Failures, hang
from services.notify.sandbox.receipts import Webhooks, now_iso


class SmsIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100)
    to: str = Field(min_length=8, max_length=20)
    text: str = Field(min_length=1, max_length=2000)
    brandname: str = Field(min_length=1, max_length=11)


class SmsOperator:
    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: list[dict[str, Any]] = []
        self.by_reference: dict[str, dict[str, Any]] = {}

    def record(self, body: SmsIn) -> dict[str, Any]:
        record = {
            **body.model_dump(),
            "provider": self.name,
            "message_id": str(uuid.uuid4()),
            "received_at": now_iso(),
        }
        self.messages.append(record)
        self.by_reference[body.reference] = record
        return record

    def find(self, to: str | None = None, reference: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if (to is None or m["to"] == to) and (reference is None or m["reference"] == reference)
        ]


def sms_router(operator: SmsOperator, *, token: str, failures: Failures, webhooks: Webhooks) -> APIRouter:
    router = APIRouter()

    def check(authorization: str) -> None:
        if authorization != f"Bearer {token}":
            raise HTTPException(401, "bad token")

    def accept(body: SmsIn) -> dict[str, Any]:
        record = operator.record(body)
        webhooks.schedule_receipt(operator.name, body.reference, record["message_id"])
        return record

    @router.post("/messages")
    async def send_sms(body: SmsIn, request: Request, authorization: str = Header(default="")) -> Response:
        check(authorization)
        failure = failures.take(operator.name)
        mode = failure.mode if failure else "ok"
        if mode == "error":
            return JSONResponse({"error": "operator unavailable"}, status_code=503)
        if mode == "reject":
            return JSONResponse({"error": "subscriber unknown"}, status_code=400)
        if mode == "timeout":
            await hang(request)
            return JSONResponse({"error": "gave up"}, status_code=504)
        if failure is not None and mode == "slow":
            await asyncio.sleep(failure.delay_s)
        existing = operator.by_reference.get(body.reference)
        if mode == "duplicate":
            existing = existing or accept(body)
        if existing is not None:
            return JSONResponse({"message_id": existing["message_id"], "duplicate": True}, status_code=409)
        record = accept(body)
        if mode == "accept_then_drop":
            return DroppedResponse()
        return JSONResponse({"message_id": record["message_id"]}, status_code=202)

    @router.get("/messages")
    async def list_sms(to: str | None = None, reference: str | None = None) -> list[dict[str, Any]]:
        return operator.find(to, reference)

    @router.get("/messages/{reference}")
    async def get_sms(reference: str, authorization: str = Header(default="")) -> dict[str, Any]:
        check(authorization)
        record = operator.by_reference.get(reference)
        if record is None:
            raise HTTPException(404, "no message with this reference")
        return record

    return router
