"""How a sandbox operator misbehaves on command: ``POST /sandbox/{provider}/failure`` with a mode and how
many requests it applies to.

- ``ok``: normal answers;
- ``error``: an operator outage (HTTP 503; Zalo: error -1, or ``error_code``);
- ``reject``: a permanent refusal (SMS: 400 subscriber unknown; Zalo: -108, or ``error_code``; postal: 422);
- ``timeout``: no answer, ever (the request hangs until the client gives up, at most an hour);
- ``slow``: answers normally after ``delay_s``, whether the client still waits or not;
- ``duplicate``: answers as if the reference were known already (SMS: 409; Zalo: error 0; postal: 200);
- ``accept_then_drop``: takes the message, then breaks the connection before the answer is complete — the
  operator crashed after accepting, and the client cannot tell.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Mode = Literal["ok", "error", "reject", "timeout", "slow", "duplicate", "accept_then_drop"]
OPERATORS = ("sms-a", "sms-b", "zalo", "postal")
HANG_LIMIT_S = 3600.0


class FailureIn(BaseModel):
    mode: Mode
    count: int | None = Field(
        default=1, ge=0, le=1_000_000, description="How many requests the mode applies to; null: until changed."
    )
    delay_s: float = Field(default=1.0, ge=0, le=HANG_LIMIT_S, description="slow: seconds before answering")
    error_code: int | None = Field(default=None, description="Zalo: the ZNS error code to answer (error, reject)")


class Failures:
    """The failure mode of each sandbox operator."""

    def __init__(self) -> None:
        self._modes: dict[str, FailureIn] = {name: FailureIn(mode="ok", count=0) for name in OPERATORS}

    def set(self, operator: str, failure: FailureIn) -> FailureIn:
        self._modes[operator] = failure
        return failure

    def take(self, operator: str) -> FailureIn | None:
        """The failure this request suffers, if any, counting it down."""
        f = self._modes[operator]
        if f.mode == "ok" or f.count == 0:
            return None
        if f.count is not None:
            self._modes[operator] = f.model_copy(update={"count": f.count - 1})
        return f

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {name: f.model_dump() for name, f in self._modes.items()}


async def hang(request: Request, limit_s: float = HANG_LIMIT_S) -> None:
    """Never answer: wait until the client hangs up (or an hour passes)."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), limit_s)


class DroppedResponse(Response):
    """Starts a 2xx answer and stops half-way: the server closes the connection with the body incomplete,
    so the client sees a broken connection, not an answer."""

    def __init__(self, status_code: int = 202) -> None:
        super().__init__(status_code=status_code)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"message_id": ', "more_body": True})
