"""The sandbox external systems (land registry, tax…): a real HTTP server that takes routing's signed
handovers, records them, and answers as it is told per system:

- ``ok``: 202, then acknowledges through routing's signed callback after ``delay_s``;
- ``fail``: answers ``status`` (503 by default; 400 for a permanent refusal) to the next ``count`` requests
  (every request when ``count`` is null), then behaves as ``ok``;
- ``silent``: 202 and never acknowledges.

``POST /control {"system": "land_registry", "mode": "silent"}`` sets a mode; ``GET /requests`` lists what it
received; ``POST /acknowledge`` and ``POST /complete`` make it send a signed acknowledgement or completion of a
delivery it received. Callbacks are signed with the same shared secret as routing's handovers.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared.web.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, signed_headers, verify

Mode = Literal["ok", "fail", "silent"]


class Control(BaseModel):
    system: str = Field(min_length=1, max_length=40)
    mode: Mode
    status: int = Field(default=503, ge=400, le=599, description="fail: the HTTP status answered")
    count: int | None = Field(default=None, ge=1, description="fail: how many requests; null: until changed")
    delay_s: float = Field(default=0.0, ge=0, le=3600, description="ok: seconds before acknowledging")


class CallbackIn(BaseModel):
    delivery_id: str
    external_reference: str | None = None
    outcome: Literal["approved", "rejected"] = "approved"
    note: str | None = None


class Systems:
    """The sandbox's state: the modes, what it received, the callbacks it sent."""

    def __init__(self, secret: str, mode: Mode) -> None:
        self.secret, self.mode = secret, mode
        self.controls: dict[str, Control] = {}
        self.received: list[dict[str, Any]] = []
        self.deliveries: dict[str, dict[str, Any]] = {}  # delivery id → the body last received
        self.callbacks: list[dict[str, Any]] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.client = httpx.AsyncClient(timeout=30)

    def control(self, system: str) -> Control:
        return self.controls.get(system) or Control(system=system, mode=self.mode)

    async def call_back(self, kind: str, delivery_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        delivery = self.deliveries.get(delivery_id)
        if delivery is None:
            raise HTTPException(404, f"no delivery {delivery_id} was received")
        raw = json.dumps({"delivery_id": delivery_id, **payload}).encode()
        headers = {"Content-Type": "application/json", **signed_headers(self.secret, int(time.time()), raw)}
        url = delivery["callbacks"][kind]
        response = await self.client.post(url, content=raw, headers=headers)
        record = {"kind": kind, "delivery_id": delivery_id, "url": url, "status": response.status_code}
        record["answer"] = response.json() if response.content else None
        self.callbacks.append(record)
        return record

    async def acknowledge(self, delivery_id: str, delay: float = 0, reference: str | None = None) -> dict[str, Any]:
        await asyncio.sleep(delay)
        payload = {
            "external_reference": reference or f"SB-{delivery_id[:8]}",
            "acknowledged_at": datetime.now(UTC).isoformat(),
        }
        return await self.call_back("acknowledgement", delivery_id, payload)

    async def _acknowledge_later(self, delivery_id: str, delay: float) -> None:
        await self.acknowledge(delivery_id, delay)

    async def take(self, system: str, request: Request) -> JSONResponse:
        raw = await request.body()
        record: dict[str, Any] = {
            "system": system,
            "delivery_id": request.headers.get("Idempotency-Key"),
            "attempt": request.headers.get("X-Lienthong-Delivery-Attempt"),
            "received_at": datetime.now(UTC).isoformat(),
        }
        self.received.append(record)
        try:
            verify(
                self.secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                raw,
                now=time.time(),
            )
        except SignatureError as exc:
            record.update(signature_valid=False, answered=401)
            return JSONResponse({"error": str(exc)}, status_code=401)
        record["signature_valid"] = True
        body = json.loads(raw)
        record["body"] = body
        c = self.control(system)
        if c.mode == "fail":
            if c.count is not None:
                left = c.count - 1
                self.controls[system] = (
                    c.model_copy(update={"count": left}) if left else Control(system=system, mode="ok")
                )
            record["answered"] = c.status
            return JSONResponse({"error": "sandbox failure"}, status_code=c.status)
        self.deliveries[str(record["delivery_id"])] = body
        record["answered"] = 202
        if c.mode == "ok":
            task = asyncio.create_task(self._acknowledge_later(str(record["delivery_id"]), c.delay_s))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return JSONResponse({"reference": f"SB-{uuid.uuid4().hex[:8]}", "accepted": True}, status_code=202)


def create_external_app(secret: str, mode: Mode = "ok") -> FastAPI:
    app = FastAPI(title="lienthong sandbox external systems")
    systems = Systems(secret, mode)

    @app.post("/systems/{system}/handovers")
    async def take_handover(system: str, request: Request) -> JSONResponse:
        return await systems.take(system, request)

    @app.post("/control")
    async def set_control(body: Control) -> dict[str, Any]:
        systems.controls[body.system] = body
        return body.model_dump()

    @app.get("/requests")
    async def list_requests(system: str | None = None, delivery_id: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in systems.received
            if (system is None or r["system"] == system) and (delivery_id is None or r["delivery_id"] == delivery_id)
        ]

    @app.get("/callbacks")
    async def list_callbacks(delivery_id: str | None = None) -> list[dict[str, Any]]:
        return [c for c in systems.callbacks if delivery_id is None or c["delivery_id"] == delivery_id]

    @app.post("/acknowledge")
    async def acknowledge(body: CallbackIn) -> dict[str, Any]:
        return await systems.acknowledge(body.delivery_id, reference=body.external_reference)

    @app.post("/complete")
    async def complete(body: CallbackIn) -> dict[str, Any]:
        payload = {
            "outcome": body.outcome,
            "note": body.note,
            "external_reference": body.external_reference,
            "finished_at": datetime.now(UTC).isoformat(),
        }
        return await systems.call_back("completion", body.delivery_id, payload)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
