"""External steps end to end, over real HTTP, broker and databases: routing hands a land dossier's
``appraise`` step to the sandbox land registry through the outbound connector (signed, with an
Idempotency-Key), and the system answers through signed callbacks. Three outcomes:

- success: delivered, acknowledged (the step's acceptance, no interconnection time), completed by the
  external system, the next step handed over;
- failure: 503s retried with backoff until delivered; a 400 is a connector dead letter and
  ``handover.failed`` reported by the platform, and replaying it after the fix delivers;
- silence: the system takes the handover and never acknowledges; ``handover.unacknowledged`` is published
  once, the delivery keeps being retried, and the slip shows the interconnection's working minutes apart
  from the unit's.

Time: no test clock. The acknowledgement window is the production default (120 working minutes). The silent
handover is back-dated (the import scope's ``occurred_at``, as legacy records and replays are), so its due
instant is already past when it is written; the other handovers happen now, so their window has not passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.devstack import DevStack
from services.routing.connector_rules import delivery_id_for
from shared.calendar import vietnam_calendar
from tests.support.dossier_api import ok
from tests.support.infra import Broker
from tests.support.routing_api import DESK, LAND, LAND_OFFICE, act, at, file_land, routed, slip, step, vn
from tests.support.stacks import db_rows, running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

CAL = vietnam_calendar()
KEYS = {"unit-desk": [f"unit:{DESK}"], "unit-land": [f"unit:{LAND_OFFICE}"]}
FAST_RETRIES = {
    "LIENTHONG_ROUTING_CONNECTOR_BACKOFF_INITIAL_S": "0.2",
    "LIENTHONG_ROUTING_CONNECTOR_BACKOFF_MAX_S": "1",
    "LIENTHONG_ROUTING_CONNECTOR_POLL_INTERVAL_S": "0.1",
}
MONDAY = vn(2026, 11, 16, 9, 0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(
        tmp_path_factory.mktemp("routing-external"), broker, extra_keys=KEYS, extra_env=FAST_RETRIES
    ) as s:
        yield s


def sandbox(stack: DevStack) -> httpx.Client:
    return httpx.Client(base_url=stack.config.external_url, timeout=30)


def control(stack: DevStack, system: str, mode: str, **extra: Any) -> None:
    with sandbox(stack) as c:
        ok(c.post("/control", json={"system": system, "mode": mode, **extra}))


def received(stack: DevStack, delivery_id: str) -> list[dict[str, Any]]:
    with sandbox(stack) as c:
        return list(ok_list(c.get("/requests", params={"delivery_id": delivery_id})))


def ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def events(stack: DevStack, code: str, type: str) -> list[dict[str, Any]]:
    """The payloads of the events routing emitted (its outbox) for the dossier."""
    rows = db_rows(
        stack,
        "routing",
        "SELECT value FROM outbox WHERE key = :code AND event_type = :type ORDER BY id",
        code=code,
        type=type,
    )
    return [json.loads(bytes(r[0]))["payload"] for r in rows]


def cli(stack: DevStack, *args: str) -> str:
    env = {**os.environ, **stack.service_env("routing")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def hand_to_land_office(stack: DevStack, occurred_at: datetime | None = None) -> tuple[str, list[str], str]:
    """File a land dossier and finish its desk step: ``appraise`` goes to the land office's system (now, or
    at ``occurred_at``). Returns the code, the step ids and the appraise step's delivery id."""
    code = file_land(stack, DESK, MONDAY)
    ids = [s["step_id"] for s in routed(stack, code)["steps"]]
    when = {"occurred_at": occurred_at.isoformat()} if occurred_at else {}
    act(stack, None, ids[0], "accept", when)
    act(stack, None, ids[0], "complete", {"outcome": "approved", **when})
    return code, ids, str(delivery_id_for(ids[1], 1))


def appraise_row(stack: DevStack, code: str) -> dict[str, Any]:
    rows = slip(stack, code)
    (row,) = [r for r in rows if r["step_key"] == "appraise"]
    return row


def test_success_delivered_acknowledged_completed_by_the_external_system(stack: DevStack) -> None:
    control(stack, "land_registry", "ok")
    code, ids, delivery = hand_to_land_office(stack)

    # The acknowledgement is the step's acceptance.
    accepted = wait_until(lambda: (s := step(stack, ids[1]))["status"] == "accepted" and s, 60, "the acknowledgement")
    (request,) = received(stack, delivery)
    body = request["body"]
    assert request["signature_valid"] and request["answered"] == 202
    assert (body["delivery_id"], body["dossier_code"], body["external_system"]) == (delivery, code, "land_registry")
    assert (body["step"]["id"], body["step"]["key"], body["step"]["attempt"]) == (ids[1], "appraise", 1)
    assert (body["procedure"]["code"], body["unit_code"]) == (LAND, LAND_OFFICE)
    assert at(body["deadline_at"]) == at(accepted["deadline_at"])
    assert body["callbacks"]["acknowledgement"].endswith("/v1/external/acknowledgements")

    row = appraise_row(stack, code)
    assert row["external_system"] == "land_registry" and row["external_reference"] == f"SB-{delivery[:8]}"
    assert at(row["acknowledged_at"]) == at(row["accepted_at"]) == at(accepted["accepted_at"])
    handed, acknowledged = at(row["handed_over_at"]), at(row["acknowledged_at"])
    assert row["interconnection_minutes"] == CAL.working_minutes_between(handed, acknowledged) <= 1  # seconds apart
    (ack,) = events(stack, code, "handover.acknowledged")
    assert (ack["delivery_id"], ack["external_system"]) == (delivery, "land_registry")

    # A repeated callback answers the same and changes nothing.
    with sandbox(stack) as c:
        again = ok(c.post("/acknowledge", json={"delivery_id": delivery, "external_reference": "OTHER"}))
    assert again["status"] == 200 and again["answer"]["delivery_status"] == "acknowledged"
    assert appraise_row(stack, code) == {**row, "interconnection_minutes": row["interconnection_minutes"]}
    assert len(events(stack, code, "handover.acknowledged")) == 1
    assert len(events(stack, code, "step.accepted")) == 2  # the desk's, and the acknowledgement's

    # The external system completes the step: the same command as the unit's /complete.
    with sandbox(stack) as c:
        done = ok(c.post("/complete", json={"delivery_id": delivery, "note": "Đủ điều kiện"}))
    assert done["status"] == 200 and done["answer"]["step_status"] == "completed", done
    steps = routed(stack, code)["steps"]
    assert [s["status"] for s in steps[1:3]] == ["completed", "assigned"]  # tax_assessment handed over
    row = appraise_row(stack, code)
    assert (row["ended"], row["outcome"], row["note"]) == ("completed", "approved", "Đủ điều kiện")
    assert row["unit_minutes"] is not None and row["unit_minutes"] >= 0
    tax_delivery = str(delivery_id_for(ids[2], 1))
    wait_until(lambda: received(stack, tax_delivery), 30, "the tax step to be delivered to the tax system")
    with sandbox(stack) as c:  # completing twice changes nothing
        assert ok(c.post("/complete", json={"delivery_id": delivery}))["answer"]["step_status"] == "completed"
    assert len(events(stack, code, "step.completed")) == 2


def test_failures_503s_are_retried_a_400_is_dead_lettered_and_replayed_after_the_fix(stack: DevStack) -> None:
    control(stack, "land_registry", "fail", status=503, count=2)
    _, ids, delivery = hand_to_land_office(stack)
    wait_until(lambda: step(stack, ids[1])["status"] == "accepted", 60, "delivery after the 503s")
    tries = received(stack, delivery)
    assert [r["answered"] for r in tries] == [503, 503, 202]
    assert {r["delivery_id"] for r in tries} == {delivery}  # one Idempotency-Key for every retry

    control(stack, "land_registry", "fail", status=400)
    code, ids, delivery = hand_to_land_office(stack)

    def dead_letter() -> dict[str, Any] | None:
        letters = json.loads(cli(stack, "connector-dead-letters", "list", "--json"))
        return next((d for d in letters if d["delivery_id"] == delivery), None)

    letter = wait_until(dead_letter, 60, "the connector dead letter")
    assert (letter["status_code"], letter["external_system"], letter["dossier_code"]) == (400, "land_registry", code)
    assert "HTTP 400" in letter["reason"]
    assert [r["answered"] for r in received(stack, delivery)] == [400]  # never retried
    (failed,) = events(stack, code, "handover.failed")
    assert (failed["reported_by"], failed["delivery_id"], failed["unit_code"]) == ("platform", delivery, LAND_OFFICE)
    row = appraise_row(stack, code)
    assert row["failure"]["reported_by"] == "platform" and "HTTP 400" in row["failure"]["reason"]
    assert step(stack, ids[1])["status"] == "assigned"

    control(stack, "land_registry", "ok")  # the fix
    assert "replayed 1" in cli(stack, "connector-dead-letters", "replay", str(letter["id"]))
    wait_until(lambda: step(stack, ids[1])["status"] == "accepted", 60, "delivery after the replay")
    assert [r["answered"] for r in received(stack, delivery)] == [400, 202]
    assert json.loads(cli(stack, "connector-dead-letters", "list", "--json")) == []
    assert at(appraise_row(stack, code)["acknowledged_at"]) is not None


def test_silence_unacknowledged_once_retried_and_the_interconnection_time_on_the_slip(stack: DevStack) -> None:
    control(stack, "land_registry", "silent")
    handed = vn(2026, 11, 16, 10, 0)  # a week ago: the 120 working minutes to acknowledge are long past
    code, ids, delivery = hand_to_land_office(stack, handed)

    (late,) = wait_until(lambda: events(stack, code, "handover.unacknowledged"), 60, "handover.unacknowledged")
    assert (late["delivery_id"], late["external_system"], at(late["handed_over_at"])) == (
        delivery,
        "land_registry",
        handed,
    )
    assert late["waited_minutes"] == 120  # as of the window's end, not of when the watcher noticed

    # It keeps being delivered, and is reported once.
    tries = wait_until(lambda: r if len(r := received(stack, delivery)) >= 3 else None, 60, "retries")
    assert all(r["answered"] == 202 and r["delivery_id"] == delivery for r in tries)
    assert len(events(stack, code, "handover.unacknowledged")) == 1
    assert step(stack, ids[1])["status"] == "assigned"

    row = appraise_row(stack, code)
    now = datetime.now(UTC)
    assert row["acknowledged_at"] is None and row["accepted_at"] is None
    assert abs(row["interconnection_minutes"] - CAL.working_minutes_between(handed, now)) <= 1
    assert row["interconnection_minutes"] >= late["waited_minutes"]

    # The system wakes up at last: the interconnection's time stops at its acknowledgement.
    with sandbox(stack) as c:
        assert ok(c.post("/acknowledge", json={"delivery_id": delivery}))["status"] == 200
    row = appraise_row(stack, code)
    acknowledged = at(row["acknowledged_at"])
    assert row["interconnection_minutes"] == CAL.working_minutes_between(handed, acknowledged)
    assert step(stack, ids[1])["status"] == "accepted"
    # No more retries: the acknowledged delivery leaves the connector's queue (nothing left to send).
    wait_until(
        lambda: (
            db_rows(stack, "routing", "SELECT status, next_attempt_at FROM handover_delivery WHERE id = :d", d=delivery)
            == [("acknowledged", None)]
        ),
        30,
        "the acknowledged delivery to leave the queue",
    )


QUEUED = "SELECT status, next_attempt_at FROM handover_delivery WHERE id = :d"


def test_a_callback_without_a_good_signature_is_refused(stack: DevStack) -> None:
    body = json.dumps(
        {
            "delivery_id": str(delivery_id_for("00000000-0000-0000-0000-000000000000", 1)),
            "acknowledged_at": "2026-11-23T09:00:00+07:00",
        }
    )
    with httpx.Client(base_url=stack.config.url("routing"), timeout=30) as c:
        for headers in ({}, {"X-Lienthong-Timestamp": "1", "X-Lienthong-Signature": "sha256=00"}):
            r = c.post(
                "/v1/external/acknowledgements", content=body, headers={"Content-Type": "application/json", **headers}
            )
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", r.text
