"""A request that meets a database outage is answered 503 with Retry-After, as a problem document, and is
documented as such; a bug is still a 500. Portals retry a 503 with the same Idempotency-Key."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.db import create_engine
from shared.web.problems import OUTAGE_RETRY_AFTER_S, PROBLEM_JSON, install_problem_handlers


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_with_a_database_away() -> FastAPI:
    engine = create_engine(f"postgresql+asyncpg://lienthong:x@127.0.0.1:{closed_port()}/lienthong", "intake")
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/dossiers")
    async def file() -> dict[str, str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"code": "never"}

    @app.get("/v1/bug")
    async def bug() -> dict[str, str]:
        raise ValueError("a bug, not an outage")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with_a_database_away(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
        yield c


async def test_a_database_away_is_a_503_to_retry(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/dossiers", json={})
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == str(OUTAGE_RETRY_AFTER_S)
    body = response.json()
    assert body["status"] == 503 and body["instance"] == "/v1/dossiers"
    assert "nothing was changed" in body["detail"]


async def test_a_bug_is_still_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/bug")
    assert response.status_code == 500
    assert "retry-after" not in response.headers


async def test_every_operation_documents_the_503(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            response = operation["responses"].get("503")
            assert response is not None, f"{method.upper()} {path}"
            assert PROBLEM_JSON in response["content"]
