"""A sandbox Zalo ZNS endpoint, answering the way ZNS does: HTTP 200 with ``{error, message, data}``.

- ``POST /zalo/message/template`` (header ``access_token``) ``{phone, template_id, template_data,
  tracking_id}`` → error 0 with ``data.msg_id``; a wrong token → -124; a phone that is not ``84…`` → -108;
  a phone set up as having no Zalo account → -118. A ``tracking_id`` it already has → error 0 with the
  original ``msg_id`` (the sandbox's promise, not Zalo's: see ``providers/zalo.py``);
- ``GET /zalo/messages?phone=&tracking_id=``: what it received;
- ``GET /zalo/message/status?tracking_id=`` (header ``access_token``): error 0 with the message, or -107;
- ``POST /sandbox/zalo/no-account {phone}``: that phone has no Zalo account from now on.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.notify.sandbox.control import DroppedResponse, Failures, hang
from services.notify.sandbox.receipts import Webhooks, now_iso

NAME = "zalo"
AccessToken = Annotated[str, Header(convert_underscores=False)]
"""ZNS's header is ``access_token``, with an underscore."""
_PHONE = re.compile(r"84\d{9}")


class ZnsIn(BaseModel):
    phone: str = Field(min_length=1, max_length=20)
    template_id: str = Field(min_length=1, max_length=50)
    template_data: dict[str, Any] = Field(default_factory=dict)
    tracking_id: str = Field(min_length=1, max_length=100)


class NoAccountIn(BaseModel):
    phone: str = Field(min_length=1, max_length=20)


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message})


class ZaloOA:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.by_tracking: dict[str, dict[str, Any]] = {}
        self.no_account: set[str] = set()

    def record(self, body: ZnsIn) -> dict[str, Any]:
        record = {
            **body.model_dump(),
            "provider": NAME,
            "msg_id": uuid.uuid4().hex,
            "sent_time": str(int(time.time() * 1000)),
            "received_at": now_iso(),
        }
        self.messages.append(record)
        self.by_tracking[body.tracking_id] = record
        return record


def zalo_router(oa: ZaloOA, *, token: str, failures: Failures, webhooks: Webhooks) -> APIRouter:
    router = APIRouter()

    def accepted(record: dict[str, Any]) -> JSONResponse:
        data = {"msg_id": record["msg_id"], "sent_time": record["sent_time"]}
        return JSONResponse({"error": 0, "message": "Success", "data": data})

    def accept(body: ZnsIn) -> dict[str, Any]:
        record = oa.record(body)
        webhooks.schedule_receipt(NAME, body.tracking_id, record["msg_id"])
        return record

    @router.post("/zalo/message/template")
    async def send_zns(
        body: ZnsIn, request: Request, access_token: str = Header(default="", convert_underscores=False)
    ) -> Response:
        if access_token != token:
            return _error(-124, "Access token is invalid")
        failure = failures.take(NAME)
        mode = failure.mode if failure else "ok"
        if failure is not None and mode == "error":
            return _error(failure.error_code or -1, "Internal error")
        if failure is not None and mode == "reject":
            return _error(failure.error_code or -108, "Phone number is invalid")
        if mode == "timeout":
            await hang(request)
            return _error(-1, "gave up")
        if failure is not None and mode == "slow":
            await asyncio.sleep(failure.delay_s)
        if not _PHONE.fullmatch(body.phone):
            return _error(-108, "Phone number is invalid")
        if body.phone in oa.no_account:
            return _error(-118, "Zalo account does not exist or has been disabled")
        existing = oa.by_tracking.get(body.tracking_id)
        if existing is not None:
            return accepted(existing)
        record = accept(body)
        if mode == "accept_then_drop":
            return DroppedResponse(200)
        return accepted(record)

    @router.get("/zalo/messages")
    async def list_zns(phone: str | None = None, tracking_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in oa.messages
            if (phone is None or m["phone"] == phone) and (tracking_id is None or m["tracking_id"] == tracking_id)
        ]

    @router.get("/zalo/message/status")
    async def zns_status(
        tracking_id: str, access_token: str = Header(default="", convert_underscores=False)
    ) -> JSONResponse:
        if access_token != token:
            return _error(-124, "Access token is invalid")
        record = oa.by_tracking.get(tracking_id)
        if record is None:
            return _error(-107, "Message ID is invalid")
        data = {k: record[k] for k in ("msg_id", "tracking_id", "phone", "sent_time")}
        return JSONResponse({"error": 0, "message": "Success", "data": {**data, "status": "sent"}})

    @router.post("/sandbox/zalo/no-account")
    async def no_account(body: NoAccountIn) -> dict[str, Any]:
        phone = re.sub(r"\D", "", body.phone)
        phone = "84" + phone[1:] if phone.startswith("0") else phone
        oa.no_account.add(phone)
        return {"no_account": sorted(oa.no_account)}

    return router
