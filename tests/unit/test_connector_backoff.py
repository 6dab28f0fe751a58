"""The connector's retry rules: delivery ids, what an answer means, exponential backoff with jitter, and the
HTTP side against the sandbox external systems (a real ASGI app behind httpx's transport seam)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from services.routing.connector import Claimed, ExternalSystems
from services.routing.connector_rules import Answer, backoff_delay, classify, delivery_id_for
from services.routing.sandbox.external import create_external_app

SECRET = "a-shared-secret-of-some-length"


def test_the_delivery_id_is_the_same_for_every_retry_of_a_handover_and_new_for_the_next() -> None:
    step = uuid.uuid4()
    assert delivery_id_for(step, 1) == delivery_id_for(str(step), 1)
    assert delivery_id_for(step, 2) != delivery_id_for(step, 1)


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, Answer.DELIVERED),
        (202, Answer.DELIVERED),
        (408, Answer.RETRY),
        (429, Answer.RETRY),
        (500, Answer.RETRY),
        (503, Answer.RETRY),
        (400, Answer.PERMANENT),
        (401, Answer.PERMANENT),
        (404, Answer.PERMANENT),
        (422, Answer.PERMANENT),
        (301, Answer.PERMANENT),
    ],
)
def test_what_an_answer_means(status: int, answer: Answer) -> None:
    assert classify(status) is answer


def test_the_backoff_doubles_up_to_the_cap() -> None:
    top = [backoff_delay(n, 5, 600, rand=lambda: 1.0) for n in range(1, 10)]
    assert top == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff_delay(10_000, 5, 600, rand=lambda: 1.0) == 600  # no overflow on long outages


def test_the_jitter_stays_in_the_upper_half_of_the_ceiling() -> None:
    assert backoff_delay(3, 5, 600, rand=lambda: 0.0) == 10  # half of 20
    delays = {backoff_delay(3, 5, 600) for _ in range(200)}
    assert all(10 <= d <= 20 for d in delays) and len(delays) > 100  # spread, not in lockstep


def _deliver(
    mode: dict[str, object] | None, secret: str = SECRET
) -> tuple[Answer, int | None, list[dict[str, object]]]:
    async def go() -> tuple[Answer, int | None, list[dict[str, object]]]:
        transport = httpx.ASGITransport(app=create_external_app(SECRET, "silent"))
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as control:
            if mode is not None:
                assert (await control.post("/control", json=mode)).status_code == 200
            systems = ExternalSystems(
                {"tax": "http://sandbox/systems/tax/handovers"}, secret, timeout=5, transport=transport
            )
            result = await systems.deliver(Claimed("d-1", "tax", '{"dossier_code":"X"}', 1))
            await systems.close()
            received = (await control.get("/requests")).json()
        return result.answer, result.status_code, received

    return asyncio.run(go())


def test_a_signed_delivery_is_taken_with_its_idempotency_key() -> None:
    answer, status, received = _deliver(None)
    assert (answer, status) == (Answer.DELIVERED, 202)
    assert [(r["delivery_id"], r["signature_valid"], r["body"]) for r in received] == [
        ("d-1", True, {"dossier_code": "X"})
    ]


def test_a_wrong_secret_is_refused_for_good() -> None:
    answer, status, received = _deliver(None, secret="not-the-shared-secret")
    assert (answer, status, received[0]["signature_valid"]) == (Answer.PERMANENT, 401, False)


@pytest.mark.parametrize(("code", "answer"), [(503, Answer.RETRY), (400, Answer.PERMANENT)])
def test_a_failing_system(code: int, answer: Answer) -> None:
    assert _deliver({"system": "tax", "mode": "fail", "status": code})[:2] == (answer, code)


def test_an_unreachable_system_is_retried_and_an_unknown_one_is_refused() -> None:
    async def go() -> tuple[Answer, Answer]:
        systems = ExternalSystems({"tax": "http://127.0.0.1:9/handovers"}, SECRET, timeout=2)
        down = await systems.deliver(Claimed("d-1", "tax", "{}", 1))
        unknown = await systems.deliver(Claimed("d-2", "land_registry", "{}", 1))
        await systems.close()
        return down.answer, unknown.answer

    assert asyncio.run(go()) == (Answer.RETRY, Answer.PERMANENT)
