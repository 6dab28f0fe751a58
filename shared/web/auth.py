"""API keys with scopes. Keys are stored hashed; a key is ``lt_<key id>_<secret>``.

Scopes: ``admin`` (everything), ``portal``, ``desk:<unit>``, ``unit:<unit>``, ``import``, ``read``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from shared.db import SessionMaker
from shared.db_types import UtcDateTime
from shared.web.problem_docs import raises
from shared.web.problems import Problem

KEY_PREFIX = "lt"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    key_id: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    secret_hash: str = Field(sa_column=Column(String(128), nullable=False))
    scopes: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    def has(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def units(self, kind: str) -> set[str]:
        """Unit codes named by scopes such as ``desk:H56.14``."""
        return {s.split(":", 1)[1] for s in self.scopes if s.startswith(f"{kind}:")}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key_string() -> str:
    return f"{KEY_PREFIX}_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}"


def split_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


async def install_key(sessions: SessionMaker, key: str, name: str, scopes: list[str]) -> str:
    """Store ``key`` (hashed) with its scopes; idempotent for the same key. Returns the key id."""
    parts = split_key(key)
    if parts is None:
        raise ValueError("malformed API key")
    key_id, secret = parts
    async with sessions() as session, session.begin():
        row = await session.get(ApiKey, key_id)
        if row is None:
            session.add(
                ApiKey(
                    key_id=key_id,
                    name=name,
                    secret_hash=_hash(secret),
                    scopes=json.dumps(sorted(scopes)),
                    created_at=datetime.now(UTC),
                )
            )
        else:
            row.name, row.secret_hash, row.scopes = name, _hash(secret), json.dumps(sorted(scopes))
            row.revoked_at = None
    return key_id


async def install_keys_file(sessions: SessionMaker, path: Path) -> int:
    """Install every key listed in a JSON file ``[{"name", "key", "scopes"}]``."""
    entries = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    for entry in entries:
        await install_key(sessions, entry["key"], entry["name"], list(entry["scopes"]))
    return len(entries)


class KeyStore:
    """Verifies keys against the service's ``api_key`` table, caching verified keys briefly."""

    def __init__(self, sessions: SessionMaker, ttl: float = 30.0) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def verify(self, key: str) -> Principal | None:
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        digest = _hash(secret)
        cache_key = f"{key_id}:{digest}"
        hit = self._cache.get(cache_key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        async with self._sessions() as session:
            row = await session.get(ApiKey, key_id)
        principal = None
        if row is not None and row.revoked_at is None and hmac.compare_digest(row.secret_hash, digest):
            principal = Principal(key_id=row.key_id, name=row.name, scopes=frozenset(json.loads(row.scopes)))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[cache_key] = (time.monotonic() + self._ttl, principal)
        return principal


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


@raises({401: "No, unknown or revoked API key", 429: "Too many requests for this API key (see Retry-After)"})
async def authenticate(request: Request) -> Principal:
    key = _presented_key(request)
    if not key:
        raise Problem(
            401,
            "Unauthorized",
            "Send an API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    store: KeyStore = request.app.state.keys
    principal = await store.verify(key)
    if principal is None:
        raise Problem(401, "Unauthorized", "The API key is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(principal.key_id)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_any(*scopes: str, prefixes: tuple[str, ...] = ()) -> Any:
    """A dependency that lets through a key holding one of ``scopes`` or a scope starting with a prefix."""

    @raises({403: "The API key lacks the scope this needs"})
    async def check(principal: CurrentPrincipal) -> Principal:
        if any(principal.has(s) for s in scopes) or any(s.startswith(p) for s in principal.scopes for p in prefixes):
            return principal
        wanted = ", ".join([*scopes, *(f"{p}*" for p in prefixes)])
        raise Problem(403, "Forbidden", f"This action needs one of the scopes: {wanted}.")

    return Depends(check)
