"""Helpers for notify's fault tests: filing a dossier for a citizen, reading notify's notifications, the
sandbox operators (what they received, how they misbehave, the receipts they send) and restarting notify
with other settings."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.devstack import DevStack
from services.notify.sandbox.gateway import DEFAULT_SECRETS
from shared.web.signing import signed_headers
from tests.e2e.conftest import client
from tests.support.dossier_api import ok
from tests.support.stacks import db_rows
from tests.support.waiting import wait_until

Item = dict[str, Any]
PROCEDURE = "1.012777.000.00.00.H56"
DESK = "H56.101"
OPEN = ("created", "sending", "temporary-failure")
"""Statuses in which the sender still has work to do."""


# ---- the citizen and their dossier --------------------------------------------------------------------


def international(phone: str) -> str:
    """0912345678 → 84912345678, as operators and Zalo write it."""
    return "84" + phone.removeprefix("0")


def file_dossier(
    stack: DevStack, *, phone: str | None, email: str | None = None, channels: list[str] | None = None
) -> str:
    """File (and accept, at the desk) a dossier for a citizen reached at ``phone`` and ``email`` on
    ``channels`` (None: left out, the default order)."""
    applicant: Item = {"full_name": "Phạm Thị Lan", "phone": phone, "email": email}
    if channels is not None:
        applicant["notification_channels"] = channels
    body = {"procedure_code": PROCEDURE, "receiving_unit_code": DESK, "channel": "in_person", "applicant": applicant}
    with client(stack, "intake") as c:
        return str(ok(c.post("/v1/dossiers", json=body), 201)["code"])


# ---- notify's notifications ---------------------------------------------------------------------------


def notifications(stack: DevStack, code: str, audience: str | None = "citizen") -> list[Item]:
    with client(stack, "notify") as c:
        items: list[Item] = ok(c.get("/v1/notifications", params={"dossier_code": code}))["items"]
    return [n for n in items if audience is None or n["audience"] == audience]


def postal_orders(stack: DevStack, code: str) -> list[Item]:
    with client(stack, "notify") as c:
        response = c.get("/v1/postal-orders", params={"dossier_code": code})
    assert response.status_code == 200, response.text
    items: list[Item] = response.json()["items"]
    return items


def notification(stack: DevStack, nid: str) -> Item:
    with client(stack, "notify") as c:
        return ok(c.get(f"/v1/notifications/{nid}"))


def wait_notifications(
    stack: DevStack,
    code: str,
    ready: Callable[[list[Item]], bool],
    what: str,
    timeout: float = 90,
    audience: str | None = "citizen",
) -> list[Item]:
    """The dossier's notifications once ``ready`` holds for them."""

    def check() -> list[Item] | None:
        items = notifications(stack, code, audience)
        return items if items and ready(items) else None

    return wait_until(check, timeout, what)


def on(items: list[Item], channel: str, *, fallback: bool | None = None) -> list[Item]:
    """The notifications on ``channel`` (fallback: only those that are / are not a fallback)."""
    return [
        n for n in items if n["channel"] == channel and (fallback is None or (n["fallback_of"] is not None) is fallback)
    ]


def one(items: list[Item], channel: str) -> Item:
    found = on(items, channel)
    assert len(found) == 1, f"expected one {channel} notification: {found}"
    return found[0]


def statuses(n: Item) -> list[str]:
    return [h["status"] for h in n["history"]]


def has(items: list[Item], channel: str, *wanted: str) -> bool:
    """Some notification on ``channel`` is in one of the ``wanted`` statuses."""
    return any(n["status"] in wanted for n in on(items, channel))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def open_work(stack: DevStack, within: timedelta) -> list[tuple[Any, ...]]:
    """Notifications the sender is working on or will be within ``within`` (any dossier)."""
    horizon = datetime.now(UTC) + within
    rows = db_rows(stack, "notify", "SELECT id, status, next_attempt_at FROM notification")
    due: list[tuple[Any, ...]] = []
    for nid, status, next_at in rows:
        if status not in OPEN:
            continue
        moment = next_at if isinstance(next_at, datetime) else datetime.fromisoformat(str(next_at))
        if status == "sending" or moment.replace(tzinfo=moment.tzinfo or UTC) <= horizon:
            due.append((nid, status, next_at))
    return due


# ---- the sandbox operators ----------------------------------------------------------------------------


def sandbox_get(stack: DevStack, path: str, **params: Any) -> Any:
    response = httpx.get(f"{stack.config.gateway_url}{path}", params=params, timeout=30)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


def sandbox_post(stack: DevStack, path: str, body: Item) -> Any:
    response = httpx.post(f"{stack.config.gateway_url}{path}", json=body, timeout=60)
    assert response.status_code < 300, f"{path}: {response.status_code} {response.text}"
    return response.json()


def sms_sent(stack: DevStack, *, to: str | None = None, reference: str | None = None) -> list[Item]:
    """What both SMS operators received, each message with its ``provider``."""
    params = {k: v for k, v in (("to", to), ("reference", reference)) if v is not None}
    found: list[Item] = sandbox_get(stack, "/sandbox/sms/all", **params)
    return found


def zalo_sent(stack: DevStack, phone: str) -> list[Item]:
    found: list[Item] = sandbox_get(stack, "/zalo/messages", phone=international(phone))
    return found


def mail_to(stack: DevStack, address: str, notification_id: str | None = None) -> list[Item]:
    """The letters the sandbox SMTP server received for ``address`` (only those of one notification)."""
    found: list[Item] = sandbox_get(stack, "/email/messages", to=address)
    return [
        m
        for m in found
        if notification_id is None or m["headers"].get("X-Lienthong-Notification-Id") == notification_id
    ]


@contextmanager
def operator_failing(stack: DevStack, operator: str, mode: str, **options: Any) -> Iterator[Item]:
    """The operator misbehaves (``mode``) for every request until the block ends, then answers normally."""
    answer: Item = sandbox_post(stack, f"/sandbox/{operator}/failure", {"mode": mode, "count": None, **options})
    try:
        yield answer
    finally:
        sandbox_post(stack, f"/sandbox/{operator}/failure", {"mode": "ok", "count": 0})


@contextmanager
def receipts(stack: DevStack, mode: str) -> Iterator[None]:
    """Operators send receipts of this kind (deliver, fail, none) for what they accept during the block."""
    sandbox_post(stack, "/sandbox/receipts", {"mode": mode})
    try:
        yield
    finally:
        sandbox_post(stack, "/sandbox/receipts", {"mode": "deliver"})


def webhook_answer(record: Item) -> tuple[int | None, Any]:
    """The status and body notify answered the sandbox's (last) attempt to deliver a webhook."""
    attempts = record["attempts"]
    assert attempts, f"the sandbox never reached notify: {record}"
    last: Item = attempts[-1]
    return last.get("status"), last.get("answer")


def signed_receipt(stack: DevStack, provider: str, payload: Item) -> httpx.Response:
    """A receipt signed the way the sandbox operator signs it (its default secret)."""
    raw = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **signed_headers(DEFAULT_SECRETS[provider], int(time.time()), raw)}
    return httpx.post(f"{stack.config.url('notify')}/v1/receipts/{provider}", content=raw, headers=headers, timeout=30)


def receipt(reference: str, status: str, message_id: str = "m") -> Item:
    """An operator's receipt for our notification ``reference``, with a new receipt id."""
    return {
        "receipt_id": str(uuid.uuid4()),
        "reference": reference,
        "message_id": message_id,
        "status": status,
        "error": "subscriber unreachable" if status == "failed" else None,
        "at": datetime.now(UTC).isoformat(),
    }


# ---- notify's process ---------------------------------------------------------------------------------


def restart_notify(stack: DevStack, env: dict[str, str] | None = None) -> None:
    """Stop notify (if it runs) and start it again with ``env`` over the stack's settings."""
    stack.kill("notify", signal.SIGTERM)
    stack.start_service("notify", env)


@contextmanager
def notify_with(stack: DevStack, env: dict[str, str]) -> Iterator[None]:
    """notify runs with ``env`` for the block, then with the stack's own settings again."""
    restart_notify(stack, env)
    try:
        yield
    finally:
        restart_notify(stack)


def metric(stack: DevStack, service: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for line in httpx.get(f"{stack.config.url(service)}/metrics", timeout=30).text.splitlines():
        series, _, value = line.rpartition(" ")
        metric_name, _, raw_labels = series.partition("{")
        if metric_name != name:
            continue
        found = dict(part.split("=", 1) for part in raw_labels.rstrip("}").split(",") if "=" in part)
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
            total += float(value)
    return total
