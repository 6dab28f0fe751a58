"""The legacy import format and the rules a history must follow (pure: no database, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.intake.legacy import EXAMPLE, LegacyAction, LegacyDossier, as_batch, external_id_of, parse_legacy

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def with_history(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**EXAMPLE, **fields, "history": list(steps)}


def step(action: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"action": action, "occurred_at": at, **fields}


def errors(raw: object) -> list[tuple[str, str]]:
    result = parse_legacy(raw, NOW)
    assert isinstance(result, list), "expected the dossier to be rejected"
    return [(e["field"], e["reason"]) for e in result]


def test_the_documented_example_is_valid_and_files_at_its_first_actions_time() -> None:
    legacy = parse_legacy(EXAMPLE, NOW)
    assert isinstance(legacy, LegacyDossier)
    assert [s.action for s in legacy.history] == [
        LegacyAction.SUBMIT,
        LegacyAction.ACCEPT,
        LegacyAction.REQUEST_SUPPLEMENT,
        LegacyAction.SUPPLEMENT,
    ]
    create = legacy.to_create()
    assert create.occurred_at == legacy.history[0].occurred_at
    assert create.external_id == "MC-2024-000123"
    assert create.applicant.phone == "0912345678"


def test_a_history_starts_with_submit_or_accept() -> None:
    raw = with_history(step("withdraw", "2024-05-06T08:00:00+07:00", reason="x"))
    assert errors(raw) == [("history.0.action", "the first action must be submit or accept, not withdraw")]


def test_submit_only_comes_first() -> None:
    raw = with_history(step("accept", "2024-05-06T08:00:00+07:00"), step("submit", "2024-05-06T09:00:00+07:00"))
    assert errors(raw) == [("history.1.action", "submit can only be the first action")]


def test_times_never_go_back_and_are_not_in_the_future() -> None:
    raw = with_history(
        step("submit", "2024-05-06T09:00:00+07:00"),
        step("accept", "2024-05-06T08:59:00+07:00"),
        step("withdraw", "2026-01-05T10:01:00+07:00", reason="x"),
    )
    assert errors(raw) == [
        ("history.1.occurred_at", "earlier than the previous action (2024-05-06T09:00:00+07:00)"),
        ("history.2.occurred_at", "must not be in the future"),
    ]


def test_equal_times_are_allowed() -> None:
    raw = with_history(step("submit", "2024-05-06T09:00:00+07:00"), step("accept", "2024-05-06T09:00:00+07:00"))
    assert isinstance(parse_legacy(raw, NOW), LegacyDossier)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("accept", {}), ("pay", {})], ("history.1.action", "cannot pay a dossier that is accepted")),
        ([("submit", {}), ("supplement", {})], ("history.1.action", "cannot supplement a dossier that is submitted")),
        (
            [("submit", {}), ("refuse", {"reason": "r"}), ("accept", {})],
            ("history.2.action", "cannot accept a dossier that is refused"),
        ),
        (
            [("accept", {}), ("return_result", {})],
            ("history.1.action", "cannot return result a dossier that is accepted"),
        ),
        ([("accept", {}), ("accept", {})], ("history.1.action", "cannot accept a dossier that is accepted")),
    ],
)
def test_each_action_must_be_allowed_in_the_status_the_history_led_to(
    steps: list[tuple[str, dict[str, Any]]], expected: tuple[str, str]
) -> None:
    raw = with_history(*(step(a, f"2024-05-06T0{n}:00:00+07:00", **f) for n, (a, f) in enumerate(steps)))
    assert errors(raw) == [expected]


def test_a_supplement_before_acceptance_returns_to_submitted_then_may_be_accepted() -> None:
    raw = with_history(
        step("submit", "2024-05-06T08:00:00+07:00"),
        step("request_supplement", "2024-05-06T09:00:00+07:00", items=["CCCD"], reason="thiếu"),
        step("supplement", "2024-05-07T09:00:00+07:00"),
        step("accept", "2024-05-07T10:00:00+07:00"),
        step("set_financial_obligation", "2024-05-08T10:00:00+07:00", items=["Lệ phí"], amount_vnd=1000),
        step("pay", "2024-05-08T11:00:00+07:00"),
        step("stop", "2024-05-09T11:00:00+07:00", reason="dừng"),
    )
    assert isinstance(parse_legacy(raw, NOW), LegacyDossier)


def test_field_errors_name_the_history_step_and_field() -> None:
    raw = with_history(
        step("accept", "2024-05-06T08:00:00"),
        step("request_supplement", "2024-05-06T09:00:00+07:00", items=[]),
        step("teleport", "2024-05-06T09:00:00+07:00"),
        {"occurred_at": "2024-05-06T09:00:00+07:00"},
        step("pay", "2024-05-06T09:00:00+07:00", colour="red"),
        occurred_at="2024-05-06T08:00:00+07:00",
    )
    fields = errors(raw)
    assert fields[0] == ("occurred_at", "give occurred_at on each history action, not on the dossier")
    assert [f for f, _ in fields[1:]] == [
        "history.0.occurred_at",
        "history.1.items",
        "history.1.reason",
        "history.2.action",
        "history.3.action",
        "history.4.colour",
    ]
    assert fields[4][1].startswith("unknown action 'teleport'; one of: submit, accept, refuse")


def test_external_id_and_history_are_required() -> None:
    raw = {k: v for k, v in EXAMPLE.items() if k not in ("external_id", "history")}
    assert errors(raw) == [("external_id", "Field required"), ("history", "Field required")]
    assert errors(with_history()) == [("history", "List should have at least 1 item after validation, not 0")]


def test_not_an_object_is_rejected_at_the_root() -> None:
    assert errors([1, 2]) == [("(root)", "Input should be a valid dictionary or instance of LegacyDossier")]
    assert external_id_of([1, 2]) is None
    assert external_id_of({"external_id": " A-1 "}) == "A-1"


def test_a_request_body_is_one_dossier_or_a_batch() -> None:
    assert as_batch({"procedure_code": "x"}) == [{"procedure_code": "x"}]
    assert as_batch({"dossiers": [1, {"a": 1}]}) == [1, {"a": 1}]
    bad_bodies: list[object] = [[EXAMPLE], {"dossiers": []}, {"dossiers": [EXAMPLE] * 501}, {"dossiers": [], "x": 1}]
    for bad in bad_bodies:
        with pytest.raises(ValueError):
            as_batch(bad)
