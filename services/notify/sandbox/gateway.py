"""The sandbox SMS operator (HTTP), plus a window onto the sandbox SMTP server's mailbox."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.notify.sandbox.smtp import Mailbox


class SmsIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100)
    to: str = Field(min_length=8, max_length=20)
    text: str = Field(min_length=1, max_length=2000)
    brandname: str = Field(min_length=1, max_length=11)


class FailureMode(BaseModel):
    mode: Literal["ok", "error", "reject", "timeout"]
    count: int = Field(default=1, ge=0, le=1_000_000, description="How many requests the mode applies to.")


def create_gateway_app(mailbox: Mailbox, token: str = "sandbox") -> FastAPI:
    app = FastAPI(title="lienthong sandbox gateways")
    sms: list[dict[str, Any]] = []
    by_reference: dict[str, dict[str, Any]] = {}
    failure: dict[str, Any] = {"mode": "ok", "count": 0}

    @app.post("/sms/messages")
    async def send_sms(body: SmsIn, authorization: str = Header(default="")) -> JSONResponse:
        if authorization != f"Bearer {token}":
            raise HTTPException(401, "bad token")
        if failure["count"] and failure["mode"] != "ok":
            failure["count"] = int(failure["count"]) - 1
            if failure["mode"] == "error":
                return JSONResponse({"error": "operator unavailable"}, status_code=503)
            if failure["mode"] == "reject":
                return JSONResponse({"error": "subscriber unknown"}, status_code=400)
            await asyncio.sleep(3600)
        existing = by_reference.get(body.reference)
        if existing is not None:
            return JSONResponse({"message_id": existing["message_id"], "duplicate": True}, status_code=409)
        record = {
            **body.model_dump(),
            "message_id": str(uuid.uuid4()),
            "received_at": datetime.now(UTC).isoformat(),
        }
        sms.append(record)
        by_reference[body.reference] = record
        return JSONResponse({"message_id": record["message_id"]}, status_code=202)

    @app.get("/sms/messages")
    async def list_sms(to: str | None = None, reference: str | None = None) -> list[dict[str, Any]]:
        return [m for m in sms if (to is None or m["to"] == to) and (reference is None or m["reference"] == reference)]

    @app.post("/sandbox/sms/failure")
    async def set_failure(mode: FailureMode) -> dict[str, Any]:
        failure.update(mode=mode.mode, count=mode.count)
        return dict(failure)

    @app.get("/email/messages")
    async def list_email(to: str | None = None) -> list[dict[str, Any]]:
        return [asdict(m) for m in mailbox.messages if to is None or to in m.rcpt_to]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
