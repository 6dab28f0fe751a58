"""Tables notify owns. The notification row is the record; the bus only triggers work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from shared.db_types import UtcDateTime


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_due", "status", "next_attempt_at"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    event_id: str = Field(sa_column=Column(String(36), nullable=False))
    dossier_code: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    recipient: str = Field(sa_column=Column(String(254), nullable=False))
    template: str = Field(sa_column=Column(String(100), nullable=False))
    template_version: int = Field(sa_column=Column(Integer, nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(30), nullable=False))
    provider_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class NotificationEvent(SQLModel, table=True):
    """Every status a notification went through, in order."""

    __tablename__ = "notification_event"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    notification_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    status: str = Field(sa_column=Column(String(30), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
