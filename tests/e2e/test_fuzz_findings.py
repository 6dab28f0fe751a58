"""Regressions for what ``make fuzz`` found in the HTTP APIs (each was a 500, an undocumented answer or bad data)."""

from __future__ import annotations

import httpx
import pytest

from services.devstack import DevStack
from tests.e2e.conftest import client

pytestmark = pytest.mark.e2e


def test_what_the_fuzzer_found_stays_fixed(stack: DevStack) -> None:
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    intake = stack.config.url("intake")

    # A body that is not UTF-8 was a 400 no operation documented; it is invalid input like `{not json`.
    bad = httpx.post(
        f"{intake}/v1/dossiers/H56.101-000101-0001/withdraw",
        content=b'{"reason": "\xc3\x28"}',
        headers={**auth, "content-type": "application/json"},
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json", bad.text
    assert bad.json()["errors"] == [
        {"source": "body", "field": "(root)", "reason": "not valid JSON (UnicodeDecodeError)"}
    ]

    # 405 named only the first route's method; GET and POST both serve /v1/dossiers.
    not_allowed = httpx.delete(f"{intake}/v1/dossiers", headers=auth)
    assert not_allowed.status_code == 405
    assert {m.strip() for m in not_allowed.headers["allow"].split(",")} >= {"GET", "POST"}

    # `?at=0` was read as a Unix time (1970-01-01); a day is YYYY-MM-DD.
    assert httpx.get(f"{intake}/v1/units", params={"at": "0"}).status_code == 422
    assert httpx.get(f"{intake}/v1/units", params={"at": "2025-06-30"}).json()["map"] == "three_level"

    # A dossier sla never saw was a 500 (max() of no facts) on the clock and both slips.
    with client(stack, "sla") as c:
        for path in ("clock", "control-slip", "apology"):
            response = c.get(f"/v1/dossiers/H56.101-000101-0404/{path}")
            assert response.status_code == 404, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"

    # An SMS opt-out whose address has no digits was stored as the empty address.
    with client(stack, "notify") as c:
        refused = c.post("/v1/opt-outs", json={"channel": "sms", "address": "PÁ\U0001e494þ"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "address"
        assert c.get("/v1/opt-outs", params={"address": "000"}).json() == []
        assert c.post("/v1/opt-outs", json={"channel": "sms", "address": "+84 912 345 678"}).status_code == 201

    # Every error is documented as a problem document, and what a key check answers is documented.
    for service in ("intake", "routing", "sla", "notify"):
        spec = httpx.get(f"{stack.config.url(service)}/openapi.json").json()
        assert "HTTPValidationError" not in spec["components"]["schemas"]
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                for status, response in operation["responses"].items():
                    if status.startswith(("4", "5")) and path not in ("/readyz",):
                        assert list(response.get("content", {})) in (["application/problem+json"], ["text/html"]), (
                            service,
                            method,
                            path,
                            status,
                        )
    notify_spec = httpx.get(f"{stack.config.url('notify')}/openapi.json").json()
    assert {"401", "403", "422"} <= set(notify_spec["paths"]["/v1/notifications"]["get"]["responses"])
    assert "404" in notify_spec["paths"]["/v1/receipts/{provider}"]["post"]["responses"]
