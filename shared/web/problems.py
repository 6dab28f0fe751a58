"""RFC 9457 problem details for every HTTP error, with field-level reasons for invalid input."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from shared.outages import is_outage
from shared.web.problem_docs import document_problems

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://lienthong.gov.vn/problems/"
OUTAGE_RETRY_AFTER_S = 2


class Problem(Exception):
    """Raise from any endpoint to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type or _slug(title)
        self.errors = errors
        self.headers = headers
        self.extra = extra


def _slug(title: str) -> str:
    return TYPE_BASE + "-".join(title.lower().split())


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type or _slug(title),
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            source, loc = loc[0], loc[1:]
        else:
            source = "body"
        out.append({"source": source, "field": ".".join(loc) or "(root)", "reason": str(err.get("msg", ""))})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            request,
            exc.status,
            exc.title,
            exc.detail,
            type=exc.type,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc)
        return problem_response(
            request,
            422,
            "Invalid request",
            f"{len(errors)} field(s) are invalid",
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI could not parse the body (not UTF-8, nested too deep): invalid input like any other.
            return problem_response(
                request,
                422,
                "Invalid request",
                "The body is not a JSON document.",
                errors=[
                    {"source": "body", "field": "(root)", "reason": f"not valid JSON ({type(exc.__cause__).__name__})"}
                ],
            )
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request.app.routes, request))}
        title = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        return problem_response(request, exc.status_code, title, detail, headers=headers)

    async def on_stale(request: Request, exc: Exception) -> JSONResponse:
        # Optimistic concurrency: another request changed the same record (its version) first.
        return problem_response(
            request,
            409,
            "Changed concurrently",
            "Another request changed this record at the same time; read it again before retrying.",
        )

    async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
            return problem_response(
                request,
                503,
                "Service unavailable",
                "The service's database is unavailable for a moment; nothing was changed. Retry shortly.",
                headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
            )
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "Internal error", "The error was logged; please retry later.")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(StaleDataError, on_stale)
    app.add_exception_handler(Exception, on_unhandled)
    document_problems(app)


def allowed_methods(routes: list[BaseRoute], request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for context in iter_route_contexts(routes):
        match, _ = context.matches(request.scope)
        if match is not Match.NONE:
            methods |= context.methods or set()
    return sorted(methods)
