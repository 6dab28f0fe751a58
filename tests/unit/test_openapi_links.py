"""intake's OpenAPI tells a client where a new dossier's code goes: links from the 201 of POST /v1/dossiers to
every operation with {code} in its path, each a real operationId whose parameter is the response's code."""

from __future__ import annotations

from services.intake.main import create_app


def test_the_filing_answer_links_to_every_operation_on_a_dossier() -> None:
    schema = create_app().openapi()
    paths = schema["paths"]
    links = paths["/v1/dossiers"]["post"]["responses"]["201"]["links"]
    on_a_dossier = {
        op["operationId"]
        for path, operations in paths.items()
        if "{code}" in path
        for verb, op in operations.items()
        if verb in ("get", "post", "put", "patch", "delete")
    }
    assert len(on_a_dossier) >= 12 and set(links) == on_a_dossier
    assert all(link["parameters"] == {"code": "$response.body#/code"} for link in links.values())
    answer = paths["/v1/dossiers"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    answer = schema["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]] if "$ref" in answer else answer
    assert "code" in answer["properties"] and "code" in answer["required"], "the link's source is always there"
    assert "503" in paths["/v1/dossiers"]["post"]["responses"], "the problem documentation is still applied"
