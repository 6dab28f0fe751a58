"""The sandbox gateways that stand in for the operators under ``make run`` and in tests: two SMS operators,
Zalo ZNS and the postal operator over HTTP, plus a window onto the sandbox SMTP server's mailbox. They record
what they receive, misbehave on command and send signed webhooks back to ``callback_base_url``.

Operators: ``/sms/…`` ("sms-a"), ``/sms-b/…`` ("sms-b"), ``/zalo/…``, ``/postal/…`` (see their modules).
Sandbox controls:

- ``POST /sandbox/{provider}/failure {mode, count, delay_s, error_code}`` (provider: sms-a, sms-b, zalo,
  postal; ``sms`` is sms-a), ``GET /sandbox/failures``: see ``control.py``;
- ``GET /sandbox/sms/all``: both SMS operators' messages, each with its ``provider``;
- ``POST /sandbox/sms/inbound {from, text, provider}``: a citizen's SMS (an opt-out keyword) forwarded,
  signed, to ``{callback}/v1/inbound-sms/{provider}`` as ``{from, text, received_at, message_id}``;
- ``GET|POST /sandbox/receipts``, ``POST /sandbox/receipts/replay {receipt_id}``,
  ``POST /sandbox/receipts/forge {provider, reference, signing}``: see ``receipts.py``;
- ``GET /sandbox/webhooks?kind=``: every webhook sent (receipt, inbound-sms, postal) with its answers;
- ``POST /sandbox/zalo/no-account {phone}``, ``POST /sandbox/postal/orders/{tracking}/advance``,
  ``POST /sandbox/postal/auto``: see ``zalo.py`` and ``postal.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from services.notify.sandbox.control import OPERATORS, FailureIn, Failures
from services.notify.sandbox.postal import PostalOperator, postal_router
from services.notify.sandbox.receipts import ForgeIn, ReceiptModeIn, ReplayIn, Webhooks, now_iso
from services.notify.sandbox.sms import SmsOperator, sms_router
from services.notify.sandbox.smtp import Mailbox
from services.notify.sandbox.zalo import ZaloOA, zalo_router

DEFAULT_SECRETS = {
    "sms-a": "sandbox-sms-a-secret",
    "sms-b": "sandbox-sms-b-secret",
    "zalo": "sandbox-zalo-secret",
    "postal": "sandbox-postal-secret",
}
"""The webhook signing secrets when none are given (``lienthong sandbox`` reads SANDBOX_SECRET_*)."""


class InboundSmsIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(alias="from", min_length=3, max_length=20)
    text: str = Field(min_length=1, max_length=500)
    provider: Literal["sms-a", "sms-b"] = "sms-a"


def create_gateway_app(
    mailbox: Mailbox,
    *,
    token: str = "sandbox",
    callback_base_url: str | None = None,
    secrets: dict[str, str] | None = None,
    receipt_delay_s: float = 0.2,
    postal_auto_delay_s: float | None = None,
) -> FastAPI:
    """``secrets``: each operator's webhook secret (sms-a, sms-b, zalo, postal), defaults for those missing.
    ``postal_auto_delay_s``: start with the postal operator advancing orders by itself after that delay."""
    webhooks = Webhooks(callback_base_url, {**DEFAULT_SECRETS, **(secrets or {})}, receipt_delay_s=receipt_delay_s)
    failures = Failures()
    sms = {name: SmsOperator(name) for name in ("sms-a", "sms-b")}
    zalo = ZaloOA()
    postal = PostalOperator(webhooks, auto_delay_s=postal_auto_delay_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await webhooks.close()

    app = FastAPI(title="lienthong sandbox gateways", lifespan=lifespan)
    app.include_router(sms_router(sms["sms-a"], token=token, failures=failures, webhooks=webhooks), prefix="/sms")
    app.include_router(sms_router(sms["sms-b"], token=token, failures=failures, webhooks=webhooks), prefix="/sms-b")
    app.include_router(zalo_router(zalo, token=token, failures=failures, webhooks=webhooks))
    app.include_router(postal_router(postal, token=token, failures=failures))

    @app.get("/sandbox/sms/all")
    async def all_sms(to: str | None = None, reference: str | None = None) -> list[dict[str, Any]]:
        found = [m for operator in sms.values() for m in operator.find(to, reference)]
        return sorted(found, key=lambda m: str(m["received_at"]))

    @app.post("/sandbox/{provider}/failure")
    async def set_failure(provider: str, body: FailureIn) -> dict[str, Any]:
        operator = "sms-a" if provider == "sms" else provider
        if operator not in OPERATORS:
            raise HTTPException(404, f"no sandbox operator {provider!r}: one of {', '.join(OPERATORS)}")
        return {"provider": operator, **failures.set(operator, body).model_dump()}

    @app.get("/sandbox/failures")
    async def list_failures() -> dict[str, dict[str, object]]:
        return failures.snapshot()

    @app.post("/sandbox/sms/inbound")
    async def inbound_sms(body: InboundSmsIn) -> dict[str, Any]:
        payload = {"from": body.sender, "text": body.text, "received_at": now_iso(), "message_id": str(uuid.uuid4())}
        return await webhooks.post("inbound-sms", body.provider, f"/v1/inbound-sms/{body.provider}", payload)

    @app.get("/sandbox/receipts")
    async def list_receipts(reference: str | None = None) -> list[dict[str, Any]]:
        return webhooks.receipts(reference)

    @app.post("/sandbox/receipts")
    async def set_receipt_mode(body: ReceiptModeIn) -> dict[str, Any]:
        return webhooks.set_receipt_mode(body)

    @app.post("/sandbox/receipts/replay")
    async def replay_receipt(body: ReplayIn) -> dict[str, Any]:
        record = await webhooks.replay(body.receipt_id)
        if record is None:
            raise HTTPException(404, "no receipt with this receipt_id was sent")
        return record

    @app.post("/sandbox/receipts/forge")
    async def forge_receipt(body: ForgeIn) -> dict[str, Any]:
        return await webhooks.forge(body)

    @app.get("/sandbox/webhooks")
    async def list_webhooks(kind: str | None = None) -> list[dict[str, Any]]:
        return [w for w in webhooks.sent if kind is None or w["kind"] == kind]

    @app.get("/email/messages")
    async def list_email(to: str | None = None) -> list[dict[str, Any]]:
        return [asdict(m) for m in mailbox.messages if to is None or to in m.rcpt_to]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
