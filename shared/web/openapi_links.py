"""OpenAPI links from the response that creates a resource to every operation that takes its identifier in the
path: a client learns where the new identifier goes, and schemathesis' stateful phase can follow them (create a
dossier, then act on it) instead of guessing identifiers that do not exist."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from shared.web.problem_docs import transform_openapi

METHODS = ("get", "put", "post", "patch", "delete")


def links_from(schema: dict[str, Any], *, path: str, method: str, status: str, parameter: str) -> dict[str, Any]:
    """Add to ``method path``'s ``status`` response a link to each operation with ``{parameter}`` in its path,
    taking the value from the response body's field of the same name."""
    paths: dict[str, Any] = schema.get("paths", {})
    response = paths[path][method]["responses"][status]
    links = response.setdefault("links", {})
    for target, operations in sorted(paths.items()):
        if "{" + parameter + "}" not in target:
            continue
        for verb in METHODS:
            operation = operations.get(verb)
            if operation is None or "operationId" not in operation:
                continue
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {parameter: f"$response.body#/{parameter}"},
                "description": f"{verb.upper()} {target} for the {parameter} just created",
            }
    return schema


def document_links(app: FastAPI, *, path: str, method: str, status: str, parameter: str) -> None:
    transform_openapi(
        app, lambda schema: links_from(schema, path=path, method=method, status=status, parameter=parameter)
    )
