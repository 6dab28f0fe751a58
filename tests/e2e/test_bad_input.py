"""Garbage of every kind gets a clear problem+json answer, never a 500; operations endpoints answer."""

from __future__ import annotations

import httpx
import pytest

from services.devstack import DevStack
from tests.e2e.conftest import client

pytestmark = pytest.mark.e2e

GOOD = {
    "procedure_code": "1.012777.000.00.00.H56",
    "receiving_unit_code": "H56.101",
    "channel": "online",
    "applicant": {"full_name": "Phạm Thị Dung", "phone": "0912345678"},
}


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def test_garbage_is_answered_with_problem_details(stack: DevStack) -> None:
    url = stack.config.url("intake")
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    with client(stack, "intake") as c:
        cases: list[tuple[httpx.Response, int]] = [
            (c.post("/v1/dossiers", content=b"{not json", headers={"content-type": "application/json"}), 422),
            (c.post("/v1/dossiers", content=b"\xff\xfe\x00garbage", headers={"content-type": "application/json"}), 422),
            (c.post("/v1/dossiers", json=[1, 2, 3]), 422),
            (c.post("/v1/dossiers", json={}), 422),
            (c.post("/v1/dossiers", json={**GOOD, "channel": "carrier pigeon"}), 422),
            (c.post("/v1/dossiers", json={**GOOD, "unexpected": True}), 422),
            (c.post("/v1/dossiers", json={**GOOD, "receiving_unit_code": "h56 14; drop table"}), 422),
            (c.post("/v1/dossiers", json={**GOOD, "applicant": {"full_name": "A", "email": "not-an-email"}}), 422),
            (c.post("/v1/dossiers", json={**GOOD, "applicant": {"full_name": "x" * 5000}}), 422),
            (
                c.post("/v1/dossiers", content=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"}),
                422,
            ),
            (
                c.post(
                    "/v1/dossiers", content=b"{" + b" " * 2_000_000 + b"}", headers={"content-type": "application/json"}
                ),
                413,
            ),
            (c.get("/v1/dossiers/H56.14-991231-9999"), 404),
            (c.get("/v1/nowhere"), 404),
            (c.delete("/v1/dossiers"), 405),
        ]
        for response, status in cases:
            problem(response, status)
        email_case = problem(cases[7][0], 422)
        assert email_case["errors"] == [
            {
                "source": "body",
                "field": "applicant.email",
                "reason": "value is not a valid email address: An email address must have an @-sign.",
            }
        ]
    problem(httpx.post(f"{url}/v1/dossiers", json=GOOD), 401)
    problem(httpx.post(f"{url}/v1/dossiers", json=GOOD, headers={"Authorization": "Bearer lt_nope_nope"}), 401)
    problem(httpx.post(f"{url}/v1/dossiers", json=GOOD, headers={"Authorization": "Bearer garbage"}), 401)
    ops_key = stack.key("dev-ops")
    problem(httpx.post(f"{url}/v1/dossiers", json=GOOD, headers={"Authorization": f"Bearer {ops_key}"}), 403)
    assert httpx.post(f"{url}/v1/dossiers", json=GOOD, headers=auth).status_code == 201


def test_every_service_reports_health_readiness_and_metrics(stack: DevStack) -> None:
    for service in ("intake", "routing", "sla", "notify"):
        base = stack.config.url(service)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "database": "ok", "broker": "ok"}
        metrics = httpx.get(f"{base}/metrics").text
        assert "lienthong_outbox_backlog" in metrics
        assert "lienthong_http_requests_total" in metrics
    routing_metrics = httpx.get(f"{stack.config.url('routing')}/metrics").text
    assert "lienthong_handler_duration_seconds" in routing_metrics
