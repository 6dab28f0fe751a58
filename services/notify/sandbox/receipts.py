"""The webhooks the sandbox operators send back to notify, every one signed with the operator's secret
(``shared.web.signing``): delivery receipts, inbound SMS and postal status changes.

Receipts: after an SMS or Zalo message is accepted, ``{receipt_id, reference, message_id, status, error, at}``
goes to ``{callback}/v1/receipts/{provider}`` after ``delay_s``, and is retried (``RETRY_DELAYS_S``) until it gets a
2xx. ``POST /sandbox/receipts {mode}`` chooses ``deliver`` (status delivered), ``fail`` (status failed) or
``none`` (no receipt). Every webhook sent is recorded with each attempt's answer.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from shared.web.signing import signed_headers

ReceiptMode = Literal["deliver", "fail", "none"]
Signing = Literal["valid", "none", "wrong", "stale"]
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)


class ReceiptModeIn(BaseModel):
    mode: ReceiptMode
    delay_s: float | None = Field(default=None, ge=0, le=3600, description="seconds before the receipt is sent")
    error: str = Field(default="subscriber unreachable", max_length=200, description="fail: the error reported")


class ReplayIn(BaseModel):
    receipt_id: str


class ForgeIn(BaseModel):
    provider: Literal["sms-a", "sms-b", "zalo"] = "sms-a"
    reference: str
    message_id: str = "forged"
    status: Literal["delivered", "failed"] = "delivered"
    signing: Literal["none", "wrong", "stale"] = Field(
        default="wrong", description="none: unsigned; wrong: signed with another secret; stale: an hour old"
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Webhooks:
    def __init__(
        self,
        callback_base_url: str | None,
        secrets: dict[str, str],
        *,
        receipt_delay_s: float = 0.2,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        self.callback_base_url = callback_base_url.rstrip("/") if callback_base_url else None
        self.secrets = secrets
        self.receipt_mode: ReceiptMode = "deliver"
        self.receipt_delay_s = receipt_delay_s
        self.receipt_error = "subscriber unreachable"
        self.retry_delays_s = tuple(retry_delays_s)
        self.sent: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._client = httpx.AsyncClient(timeout=10)

    def set_receipt_mode(self, body: ReceiptModeIn) -> dict[str, Any]:
        self.receipt_mode = body.mode
        self.receipt_error = body.error
        if body.delay_s is not None:
            self.receipt_delay_s = body.delay_s
        return {"mode": self.receipt_mode, "delay_s": self.receipt_delay_s, "error": self.receipt_error}

    def receipts(self, reference: str | None = None) -> list[dict[str, Any]]:
        return [
            w
            for w in self.sent
            if w["kind"] == "receipt" and (reference is None or w["payload"].get("reference") == reference)
        ]

    def background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule_receipt(self, provider: str, reference: str, message_id: str) -> None:
        """After an operator accepted a message: its receipt, later, in the background."""
        if self.receipt_mode == "none":
            return
        failed = self.receipt_mode == "fail"
        payload = {
            "receipt_id": str(uuid.uuid4()),
            "reference": reference,
            "message_id": message_id,
            "status": "failed" if failed else "delivered",
            "error": self.receipt_error if failed else None,
        }
        self.background(self._receipt_later(provider, payload, self.receipt_delay_s))

    async def _receipt_later(self, provider: str, payload: dict[str, Any], delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.post("receipt", provider, f"/v1/receipts/{provider}", {**payload, "at": now_iso()}, retry=True)

    async def replay(self, receipt_id: str) -> dict[str, Any] | None:
        """Send a receipt sent before once more: the same receipt_id and content, freshly signed."""
        earlier = next((w for w in self.receipts() if w["payload"]["receipt_id"] == receipt_id), None)
        if earlier is None:
            return None
        return await self.post("receipt", earlier["provider"], earlier["path"], earlier["payload"], replay=True)

    async def forge(self, body: ForgeIn) -> dict[str, Any]:
        payload = {
            "receipt_id": str(uuid.uuid4()),
            "reference": body.reference,
            "message_id": body.message_id,
            "status": body.status,
            "error": None,
            "at": now_iso(),
        }
        return await self.post("receipt", body.provider, f"/v1/receipts/{body.provider}", payload, signing=body.signing)

    async def post(
        self,
        kind: str,
        provider: str,
        path: str,
        payload: dict[str, Any],
        *,
        retry: bool = False,
        signing: Signing = "valid",
        replay: bool = False,
    ) -> dict[str, Any]:
        """Send one webhook (with retries until a 2xx when ``retry``) and record it with every answer."""
        record: dict[str, Any] = {
            "kind": kind,
            "provider": provider,
            "path": path,
            "url": f"{self.callback_base_url}{path}" if self.callback_base_url else None,
            "payload": payload,
            "signing": signing,
            "replay": replay,
            "attempts": [],
            "delivered": False,
        }
        self.sent.append(record)
        if record["url"] is None:
            record["skipped"] = "no callback URL configured"
            return record
        delays = (0.0, *self.retry_delays_s) if retry else (0.0,)
        for delay in delays:
            await asyncio.sleep(delay)
            attempt = await self._attempt(record["url"], provider, payload, signing)
            record["attempts"].append(attempt)
            if 200 <= attempt.get("status", 0) < 300:
                record["delivered"] = True
                break
        return record

    async def _attempt(self, url: str, provider: str, payload: dict[str, Any], signing: Signing) -> dict[str, Any]:
        raw = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        timestamp = int(time.time())
        if signing == "valid":
            headers.update(signed_headers(self.secrets[provider], timestamp, raw))
        elif signing == "wrong":
            headers.update(signed_headers("not-the-" + self.secrets[provider], timestamp, raw))
        elif signing == "stale":
            headers.update(signed_headers(self.secrets[provider], timestamp - 3600, raw))
        attempt: dict[str, Any] = {"at": now_iso()}
        try:
            response = await self._client.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            attempt["error"] = repr(exc)
            return attempt
        attempt["status"] = response.status_code
        try:
            attempt["answer"] = response.json() if response.content else None
        except ValueError:
            attempt["answer"] = response.text[:500]
        return attempt

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
