"""Checks the schemathesis runs of ``make fuzz`` add to its own (loaded with ``SCHEMATHESIS_HOOKS``).

- Every error answer is an RFC 9457 problem document (``application/problem+json`` with ``type``, ``title``
  and ``status`` equal to the HTTP status), unless the operation documents another media type for that
  status (the citizen's HTML tracking page).
- A request that matches the schema is accepted, or refused for a reason the schema cannot express: a
  business rule (an unknown procedure, a time in the future, a cursor this API never issued…), a missing
  key or scope, a missing resource, a conflict. A schema-valid request must never fail the API's own request
  validation: that means the schema documents less than the code enforces. This replaces schemathesis'
  ``positive_data_acceptance``, which would count every business-rule 422 as a failure.

Generated email addresses use ordinary domains: JSON Schema's ``email`` format knows nothing of the domains
reserved for special use, which the API refuses, as its description of the field says (no mail reaches them).
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from hypothesis import strategies as st

PROBLEM_JSON = "application/problem+json"
REQUEST_VALIDATION = re.compile(r"^\d+ field\(s\) are invalid$")
"""The detail ``shared.web.problems`` gives FastAPI's request validation failures, and nothing else."""
REFUSALS_OF_VALID_DATA = {401, 403, 404, 409, 422, 428, 429}

schemathesis.openapi.format(
    "email",
    st.builds(
        "{}@{}.{}".format,
        st.from_regex(r"\A[a-z0-9]{1,12}(?:[._-][a-z0-9]{1,12}){0,2}\Z"),
        st.from_regex(r"\A[a-z0-9]{1,12}(?:-[a-z0-9]{1,12})?\Z"),
        st.sampled_from(["vn", "com.vn", "gov.vn", "com", "org"]),
    ),
)


def _documented_media_types(case: Any, status: int) -> set[str]:
    responses = case.operation.definition.raw.get("responses", {})
    documented = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default") or {}
    return set((documented.get("content") or {}).keys())


@schemathesis.check
def problem_details_on_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    status = response.status_code
    if status < 400:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    if media_type != PROBLEM_JSON and media_type in _documented_media_types(case, status):
        return None
    assert media_type == PROBLEM_JSON, f"a {status} answered {media_type or 'no content type'}, not {PROBLEM_JSON}"
    body = response.json()
    assert isinstance(body, dict), f"the problem document is a {type(body).__name__}, not an object"
    missing = [k for k in ("type", "title", "status") if not body.get(k)]
    assert not missing, f"the problem document lacks {', '.join(missing)}"
    assert body["status"] == status, f"the problem says status {body['status']} but the answer is {status}"
    return None


@schemathesis.check
def valid_data_refused_only_by_business_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status < 400 or status >= 500:
        return None  # 5xx: not_a_server_error reports it
    assert status in REFUSALS_OF_VALID_DATA, f"a schema-valid request was refused with {status}"
    if status == 422:
        body = response.json()
        detail = body.get("detail", "") if isinstance(body, dict) else ""
        assert not REQUEST_VALIDATION.match(detail), (
            f"a schema-valid request failed the API's own request validation: {body.get('errors')}"
        )
    return None
