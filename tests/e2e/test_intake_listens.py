"""Intake's view follows what routing and sla publish: the result is ready, the appointment moved.

The events are published by the test on routing's and sla's topics, as those services will, to the
real broker; intake's consumer applies them to the dossier it shows the desk and the citizen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from services.devstack import DevStack
from shared.events import new_envelope
from shared.events.clock import AppointmentChange, AppointmentChanged
from shared.events.step import DossierResolved
from tests.e2e.conftest import client, stack_config
from tests.support.infra import Broker, fresh_database_url, new_namespace
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

DOSSIER = {
    "procedure_code": "1.012777.000.00.00.H56",
    "receiving_unit_code": "H56.101",
    "channel": "in_person",
    "applicant": {"full_name": "Lê Văn Cường", "phone": "0903123456"},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    tmp: Path = tmp_path_factory.mktemp("listens")
    s = DevStack(stack_config(tmp, broker, fresh_database_url(tmp), new_namespace()))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def publish(stack: DevStack, topic: str, producer_name: str, code: str, type_: str, payload: BaseModel) -> None:
    envelope = new_envelope(
        type=type_, dossier_code=code, producer=producer_name, payload=payload, occurred_at=datetime.now(UTC)
    )

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.config.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{stack.config.kafka_namespace}{topic}", key=code.encode(), value=envelope.to_bytes()
            )
        finally:
            await producer.stop()

    asyncio.run(send())


def dossier(stack: DevStack, code: str) -> dict[str, Any]:
    with client(stack, "intake") as c:
        response = c.get(f"/v1/dossiers/{code}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def file_dossier(stack: DevStack) -> dict[str, Any]:
    with client(stack, "intake") as c:
        response = c.post("/v1/dossiers", json=DOSSIER)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    # routing plans the route; intake hears of it and the dossier is in progress
    wait_until(lambda: dossier(stack, body["code"])["status"] == "in_progress", 30, "processing to start")
    return body


def resolved(unit: str = "H56.101") -> DossierResolved:
    return DossierResolved(resolved_at=datetime.now(UTC), resolving_unit_code=unit, note="Đã cấp giấy xác nhận")


def test_a_resolved_dossier_is_ready_and_can_then_be_returned(stack: DevStack) -> None:
    code = file_dossier(stack)["code"]
    with client(stack, "intake") as c:
        early = c.post(f"/v1/dossiers/{code}/return", json={})
    assert early.status_code == 409 and early.json()["dossier_status"] == "in_progress"

    publish(stack, "routing.step.v1", "routing", code, "dossier.resolved", resolved())
    ready = wait_until(lambda: (d := dossier(stack, code))["status"] == "resolved" and d, 30, "status 9")
    assert ready["status_code"] == 9
    assert ready["timeline"][-1]["type"] == "dossier.resolved"

    with client(stack, "intake") as c:
        returned = c.post(f"/v1/dossiers/{code}/return", json={"note": "Công dân nhận tại quầy"})
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["status_code"]) == ("returned", 10)


def test_a_resolution_that_races_a_withdrawal_does_not_undo_it(stack: DevStack) -> None:
    code = file_dossier(stack)["code"]
    with client(stack, "intake") as c:
        assert c.post(f"/v1/dossiers/{code}/withdraw", json={"reason": "Công dân rút hồ sơ"}).status_code == 200

    publish(stack, "routing.step.v1", "routing", code, "dossier.resolved", resolved())
    last = wait_until(
        lambda: (d := dossier(stack, code))["timeline"][-1]["type"] == "dossier.resolved" and d,
        30,
        "the resolution to be recorded",
    )
    assert last["status"] == "withdrawn", "a late resolution must not resurrect a withdrawn dossier"


def test_a_new_appointment_from_sla_is_what_the_desk_and_citizen_see(stack: DevStack) -> None:
    filed = file_dossier(stack)
    code = filed["code"]
    before = datetime.fromisoformat(filed["appointment_at"])
    after = before + timedelta(days=3)
    change = AppointmentChanged(
        appointment_at=after,
        previous_appointment_at=before,
        change=AppointmentChange.RESET,
        reason="Chờ kết quả thẩm định của cơ quan thuế",
    )
    publish(stack, "sla.clock.v1", "sla", code, "dossier.appointment_changed", change)

    def moved_appointment() -> dict[str, Any] | None:
        d = dossier(stack, code)
        return d if datetime.fromisoformat(d["appointment_at"]) != before else None

    moved = wait_until(moved_appointment, 30, "the appointment to move")
    assert datetime.fromisoformat(moved["appointment_at"]) == after
    entry = moved["timeline"][-1]
    assert entry["type"] == "dossier.appointment_changed" and entry["actor"] == "sla"
    with client(stack, "intake") as c:
        receipt = c.get(f"/v1/dossiers/{code}/receipt", params={"format": "json"})
    assert receipt.status_code == 200, receipt.text
    # The receipt keeps the appointment given at acceptance; the new one is on the apology slip.
    assert datetime.fromisoformat(receipt.json()["appointment_at"]) == before

    page = httpx.get(f"{stack.config.url('intake')}/track/{code}", timeout=10)
    assert page.status_code == 200
    assert "Hẹn trả kết quả (đã hẹn lại)" in page.text and "Hẹn lại ngày trả kết quả" in page.text


def test_the_tracking_page_shows_the_handovers_and_personal_data_only_to_the_phone_owner(stack: DevStack) -> None:
    code = file_dossier(stack)["code"]
    base = stack.config.url("intake")
    wait_until(
        lambda: "Đã nhận hồ sơ chuyển đến để xử lý" in httpx.get(f"{base}/track/{code}", timeout=10).text,
        30,
        "the handover to appear",
    )
    anonymous = httpx.get(f"{base}/track/{code}", timeout=10)
    assert anonymous.headers["content-type"].startswith("text/html")
    assert "Đang xử lý" in anonymous.text and "Đã tiếp nhận hồ sơ" in anonymous.text
    assert "Lê Văn Cường" not in anonymous.text and "3456" not in anonymous.text

    wrong = httpx.get(f"{base}/track/{code}", params={"phone_last4": "0000"}, timeout=10)
    assert "Số điện thoại không khớp" in wrong.text and "Lê Văn Cường" not in wrong.text
    right = httpx.get(f"{base}/track/{code}", params={"phone_last4": "3456"}, timeout=10)
    assert "Lê Văn Cường" in right.text and "••••••3456" in right.text

    missing = httpx.get(f"{base}/track/H56.101-010101-9999", timeout=10)
    assert missing.status_code == 404 and "Không tìm thấy hồ sơ" in missing.text
