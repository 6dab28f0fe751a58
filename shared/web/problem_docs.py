"""The OpenAPI document says what the API answers on error: RFC 9457 ``application/problem+json``.

FastAPI documents its own 422 as ``application/json`` with a schema the services never send, and leaves
other error responses without content. Every 4xx/5xx response of every operation is documented here
with the ``Problem`` schema instead, unless a route documents another media type for it (an HTML page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

PROBLEM_JSON = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names each field at fault.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI that identifies the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["source", "field", "reason"],
                "properties": {
                    "source": {"type": "string", "enum": ["body", "query", "path", "header"]},
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Answered for load balancers and Prometheus in their own formats, not as problem documents."""
UNAVAILABLE = "The database is unavailable for a moment (nothing was changed): retry after `Retry-After` seconds."
_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


_DEPENDENCY_ERRORS: dict[Callable[..., Any], dict[int, str]] = {}


F = TypeVar("F", bound=Callable[..., Any])


def raises(errors: dict[int, str]) -> Callable[[F], F]:
    """Mark a dependency with the errors it answers, so every operation that uses it documents them."""

    def mark(call: F) -> F:
        _DEPENDENCY_ERRORS[call] = errors
        return call

    return mark


def _dependency_errors(dependant: Dependant) -> dict[int, str]:
    found = dict(_DEPENDENCY_ERRORS.get(dependant.call, {})) if dependant.call is not None else {}
    for sub in dependant.dependencies:
        found = {**_dependency_errors(sub), **found}
    return found


def _is_error(status: str) -> bool:
    return status == "default" or (len(status) == 3 and status[0] in "45")


def problems_in_openapi(schema: dict[str, Any], routes: list[Any] | None = None) -> dict[str, Any]:
    """Rewrite a generated OpenAPI document in place so that every error response is a problem document, and
    every operation documents the errors its dependencies answer (no key: 401, wrong scope: 403…)."""
    paths = schema.get("paths", {})
    for context in iter_route_contexts(routes or []):
        route = context.route
        if not isinstance(context.original_route, APIRoute) or context.path_format not in paths:
            continue
        dependant: Dependant | None = getattr(route, "dependant", None)
        errors = _dependency_errors(dependant) if dependant is not None else {}
        for method in context.methods or ():
            operation = paths[context.path_format].get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(str(status), {"description": description})
    for path, path_item in paths.items():
        if path in PROBE_PATHS:
            continue
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            operation.setdefault("responses", {}).setdefault("503", {"description": UNAVAILABLE})
            for status, response in operation.get("responses", {}).items():
                if not _is_error(str(status)):
                    continue
                content: dict[str, Any] = response.get("content") or {}
                others = {m: c for m, c in content.items() if m not in ("application/json", PROBLEM_JSON)}
                response["content"] = others if others else {PROBLEM_JSON: {"schema": _REF}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    text = repr(schema.get("paths", {}))
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if f"#/components/schemas/{name}'" not in text:
            components.pop(name, None)
    return schema


def transform_openapi(app: FastAPI, transform: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Serve the app's OpenAPI document passed through ``transform`` once (transforms stack in call order)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = transform(generate())
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 (FastAPI's documented override; mypy forbids assigning a method)


def document_problems(app: FastAPI) -> None:
    """Serve an OpenAPI document whose error responses are ``application/problem+json``."""
    transform_openapi(app, lambda schema: problems_in_openapi(schema, app.routes))
