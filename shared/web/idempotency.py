"""``Idempotency-Key`` on POST: the same key with the same request returns the first answer again.

The answer is stored in the same database transaction as the effect, so a retry after a crash finds
either both or neither. The same key with another request is refused (422). Keys are per API key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import Column, Integer, LargeBinary, String, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from shared.bus.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.db_types import UtcDateTime
from shared.web.auth import CurrentPrincipal
from shared.web.problem_docs import raises
from shared.web.problems import Problem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    principal: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int = Field(sa_column=Column(Integer, nullable=False))
    headers: str = Field(sa_column=Column(Text, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))


@dataclass(frozen=True)
class Outcome:
    """What an idempotent command answers: stored with its effect and replayed on a retry."""

    status_code: int
    body: BaseModel
    headers: dict[str, str]


@dataclass(frozen=True)
class IdempotentRequest:
    key: str | None
    principal: str
    fingerprint: str

    async def run(self, units: UnitOfWorkFactory, command: Callable[[UnitOfWork], Awaitable[Outcome]]) -> Response:
        """Run ``command`` once per key; a retry (or a concurrent twin) gets the stored answer."""
        if self.key is not None and (replayed := await self._replay(units)) is not None:
            return replayed
        try:
            async with units() as uow:
                outcome = await command(uow)
                body = outcome.body.model_dump_json().encode()
                if self.key is not None:
                    uow.session.add(
                        IdempotencyRecord(
                            principal=self.principal,
                            key=self.key,
                            fingerprint=self.fingerprint,
                            status_code=outcome.status_code,
                            headers=json.dumps(outcome.headers),
                            body=body,
                            created_at=datetime.now(UTC),
                        )
                    )
        except IntegrityError:
            if self.key is not None and (replayed := await self._replay(units)) is not None:
                return replayed
            raise
        return Response(body, status_code=outcome.status_code, headers=outcome.headers, media_type="application/json")

    async def _replay(self, units: UnitOfWorkFactory) -> Response | None:
        async with units.sessions() as session:
            record = await session.get(IdempotencyRecord, (self.principal, self.key))
        if record is None:
            return None
        if record.fingerprint != self.fingerprint:
            raise Problem(
                422,
                "Idempotency key reused",
                f"The {HEADER} {self.key!r} was first used with a different request.",
            )
        headers = {**json.loads(record.headers), REPLAYED_HEADER: "true"}
        return Response(record.body, status_code=record.status_code, headers=headers, media_type="application/json")


def _fingerprint(method: str, path: str, raw: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


@raises({422: "Invalid request, field by field; or an Idempotency-Key reused with another body"})
async def idempotent_request(request: Request, principal: CurrentPrincipal) -> IdempotentRequest:
    key = request.headers.get(HEADER)
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable()):
        raise Problem(
            422,
            "Invalid idempotency key",
            f"{HEADER} must be 1 to 255 printable characters.",
            errors=[{"source": "header", "field": HEADER, "reason": "1 to 255 printable characters"}],
        )
    raw = await request.body()
    return IdempotentRequest(
        key=key, principal=principal.key_id, fingerprint=_fingerprint(request.method, request.url.path, raw)
    )


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]

__all__ = ["HEADER", "Idempotency", "IdempotencyRecord", "IdempotentRequest", "Outcome"]
