"""The audit log: who (which API key) did what to which target, written with the effect itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, String, Text
from sqlmodel import Field, SQLModel

from shared.bus.unit_of_work import UnitOfWork
from shared.db_types import UtcDateTime
from shared.web.auth import Principal


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    key_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    key_name: str = Field(sa_column=Column(String(200), nullable=False))
    action: str = Field(sa_column=Column(String(100), nullable=False))
    target: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


def audit(uow: UnitOfWork, principal: Principal, action: str, target: str, **detail: Any) -> None:
    uow.session.add(
        AuditEntry(
            at=datetime.now(UTC),
            key_id=principal.key_id,
            key_name=principal.name,
            action=action,
            target=target,
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
    )
