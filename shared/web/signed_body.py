"""A signed callback's body, parsed only once its signature and timestamp are verified (shared/web/signing.py):
401 for a bad or stale signature, 422 field by field for a body that does not match its model."""

from __future__ import annotations

import time
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from shared.web.problems import Problem
from shared.web.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

M = TypeVar("M", bound=BaseModel)


async def signed_body(request: Request, secret: str, model: type[M]) -> M:
    raw = await request.body()
    try:
        verify(
            secret, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), raw, now=time.time()
        )
    except SignatureError as exc:
        raise Problem(401, "Invalid signature", str(exc)) from exc
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {"source": "body", "field": ".".join(str(p) for p in e["loc"]) or "body", "reason": e["msg"]}
            for e in exc.errors()
        ]
        raise Problem(422, "Invalid request", "The body is not valid.", errors=errors) from exc
