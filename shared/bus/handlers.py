"""Mapping event types to a consumer's handlers, and the errors a handler may raise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.registry import event_type

P = TypeVar("P", bound=BaseModel)
Handler = Callable[[UnitOfWork, Envelope, Any], Awaitable[None]]


class PermanentError(Exception):
    """The message can never be processed as it is: dead-letter it at once, do not retry."""


@dataclass(frozen=True)
class Registration:
    event_type: str
    payload: type[BaseModel]
    handler: Handler


class Handlers:
    """One function per event type; types a consumer does not register are skipped, not failed."""

    def __init__(self) -> None:
        self._by_type: dict[str, Registration] = {}

    def on(self, type_name: str) -> Callable[[Handler], Handler]:
        spec = event_type(type_name)

        def register(fn: Handler) -> Handler:
            if type_name in self._by_type:
                raise ValueError(f"{type_name} already has a handler")
            self._by_type[type_name] = Registration(type_name, spec.payload, fn)
            return fn

        return register

    def register(self, type_name: str, payload: type[BaseModel], fn: Handler) -> None:
        """Register a handler for a type outside the shared registry (used when a fix adds one)."""
        self._by_type[type_name] = Registration(type_name, payload, fn)

    def get(self, type_name: str) -> Registration | None:
        return self._by_type.get(type_name)

    @property
    def types(self) -> list[str]:
        return sorted(self._by_type)
