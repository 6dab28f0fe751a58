"""Helpers for routing's agency API in the end-to-end tests: file a land dossier, wait for its route, act on
steps, read the process control slip."""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from services.devstack import DevStack
from shared.calendar import VIETNAM_TZ
from tests.e2e.conftest import client
from tests.support.dossier_api import api, dossier, ok
from tests.support.waiting import wait_until

LAND = "1.012777.000.00.00.H56"  # land change registration: interconnected, 10 working days
DESK, LAND_OFFICE, TAX = "H56.101", "H56.VPDK.01", "H56.THUE.01"  # the units its two-level route resolves to
APPLICANT = {"full_name": "Phạm Văn Đức", "phone": "0912345678"}


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VIETNAM_TZ)


@overload
def at(value: str) -> datetime: ...
@overload
def at(value: None) -> None: ...
def at(value: str | None) -> datetime | None:
    """A time of an API answer (JSON) as an aware datetime."""
    return datetime.fromisoformat(value) if value is not None else None


def file_land(stack: DevStack, unit: str, occurred_at: datetime, **extra: Any) -> str:
    """The admin key (it holds the import scope) files and accepts at a back-dated instant."""
    body = {
        **extra,
        "procedure_code": LAND,
        "receiving_unit_code": unit,
        "channel": "in_person",
        "applicant": APPLICANT,
        "occurred_at": occurred_at.isoformat(),
    }
    with api(stack) as c:
        return str(ok(c.post("/v1/dossiers", json=body), 201)["code"])


def routed(stack: DevStack, code: str) -> dict[str, Any]:
    """The dossier's route, once routing has planned it."""

    def planned() -> dict[str, Any] | None:
        with client(stack, "routing") as c:
            r = c.get(f"/v1/dossiers/{code}/route")
        return r.json() if r.status_code == 200 else None

    return wait_until(planned, 60, f"routing to plan {code}")


def act(stack: DevStack, key: str | None, step_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
    """POST a step action (``accept``, ``complete``…) with ``key`` (the admin key by default); 200 expected."""
    with client(stack, "routing", key) as c:
        return ok(c.post(f"/v1/steps/{step_id}/{action}", json=body or {}))


def step(stack: DevStack, step_id: str) -> dict[str, Any]:
    with client(stack, "routing") as c:
        return ok(c.get(f"/v1/steps/{step_id}"))


def slip(stack: DevStack, code: str, key: str | None = None) -> list[dict[str, Any]]:
    """The rows of the dossier's process control slip."""
    with client(stack, "routing", key) as c:
        rows: list[dict[str, Any]] = ok(c.get(f"/v1/dossiers/{code}/handovers"))["rows"]
    return rows


def wait_status(stack: DevStack, code: str, status: str) -> dict[str, Any]:
    """Wait until intake shows the dossier in ``status``."""
    return wait_until(lambda: (d := dossier(stack, code))["status"] == status and d, 60, f"{code} to be {status}")
