"""Small helpers for talking to intake's dossier API over real HTTP in the end-to-end tests."""

from __future__ import annotations

from typing import Any

import httpx

from services.devstack import DevStack
from tests.support.waiting import wait_until

PROBLEM_JSON = "application/problem+json"


def api(stack: DevStack, key: str | None = None) -> httpx.Client:
    """A client of intake authenticated with ``key`` (the admin key by default)."""
    return httpx.Client(
        base_url=stack.config.url("intake"),
        headers={"Authorization": f"Bearer {key or stack.admin_key}"},
        timeout=60,
    )


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem document with that status and return its body."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"], body
    return body


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def error_fields(response: httpx.Response) -> list[str]:
    return [str(e["field"]) for e in problem(response, 422).get("errors", [])]


def dossier(stack: DevStack, code: str, key: str | None = None) -> dict[str, Any]:
    with api(stack, key) as c:
        return ok(c.get(f"/v1/dossiers/{code}"))


def act(stack: DevStack, key: str, code: str, path: str, payload: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """POST a lifecycle action (``accept``, ``supplement-requests``…) and check the answer's status."""
    with api(stack, key) as c:
        response = c.post(f"/v1/dossiers/{code}/{path}", json=payload)
    return ok(response) if status == 200 else problem(response, status)


def own_timeline(stack: DevStack, code: str) -> list[tuple[str, str]]:
    """(type, status) of the timeline, without sla's appointment changes (they arrive when sla sends them)."""
    return [(e["type"], e["status"]) for e in dossier(stack, code)["timeline"] if e["actor"] != "sla"]


def wait_routed(stack: DevStack, code: str, timeout: float = 60) -> dict[str, Any]:
    """Wait until routing has planned the route and assigned the first step (both on the timeline), so
    no event from routing can still change the dossier under the test's feet."""

    def routed() -> dict[str, Any] | None:
        d = dossier(stack, code)
        types = {e["type"] for e in d["timeline"]}
        return d if {"route.planned", "step.assigned"} <= types else None

    return wait_until(routed, timeout, f"routing to take up {code}")


def all_pages(stack: DevStack, key: str | None = None, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of GET /v1/dossiers with ``params``, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    with api(stack, key) as c:
        while True:
            page = ok(c.get("/v1/dossiers", params={**params, **({"cursor": cursor} if cursor else {})}))
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return pages
            assert len(pages) < 1000, "the cursor never ends"


def codes(stack: DevStack, key: str | None = None, **params: Any) -> list[str]:
    return [d["code"] for page in all_pages(stack, key, limit=500, **params) for d in page]
