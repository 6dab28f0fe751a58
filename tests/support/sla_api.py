"""Helpers for sla's API in the end-to-end tests: a dossier's clock (now or as of an instant), the period
report, and waiting until sla has seen what the other services published."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from services.devstack import DevStack
from tests.e2e.conftest import client
from tests.support.dossier_api import ok
from tests.support.waiting import wait_until


def sla(stack: DevStack, key: str | None = None) -> httpx.Client:
    """A client of sla authenticated with ``key`` (the admin key by default)."""
    return client(stack, "sla", key)


def clock(stack: DevStack, code: str, as_of: datetime | None = None, key: str | None = None) -> dict[str, Any]:
    """GET /v1/dossiers/{code}/clock (200 expected), now or ``as_of``."""
    params = {"as_of": as_of.isoformat()} if as_of is not None else {}
    with sla(stack, key) as c:
        return ok(c.get(f"/v1/dossiers/{code}/clock", params=params))


def wait_clock(
    stack: DevStack,
    code: str,
    settled: Callable[[dict[str, Any]], bool],
    what: str,
    key: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    """Wait until sla has the dossier's clock and ``settled`` holds of it (now)."""

    def check() -> dict[str, Any] | None:
        with sla(stack, key) as c:
            r = c.get(f"/v1/dossiers/{code}/clock")
        if r.status_code == 404:
            return None
        body = ok(r)
        return body if settled(body) else None

    return wait_until(check, timeout, what)


def report(stack: DevStack, key: str | None = None, **params: str) -> httpx.Response:
    """GET /v1/reports/quarterly with ``params`` (``period``, ``from``, ``to``, ``as_of``, ``format``…)."""
    with sla(stack, key) as c:
        return c.get("/v1/reports/quarterly", params=params)
