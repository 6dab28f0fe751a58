"""Pure rules of the skeleton: dossier codes, phone numbers, notification statuses, routes."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.intake.domain import DossierStatus, dossier_code
from services.intake.schemas import ApplicantIn, vietnamese_phone
from services.notify.domain import (
    Channel,
    IllegalTransition,
    NotificationStatus,
    check_transition,
    notification_id,
)
from services.routing.domain import plan_one_stop, step_id_for
from shared.bus.outbox import slot_for
from shared.bus.tables import OUTBOX_SLOTS


def test_the_dossier_code_uses_the_vietnamese_date() -> None:
    late_evening_utc = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)  # 00:30 on 22/11 in Hà Nội
    assert dossier_code("H56.14", late_evening_utc, 12) == "H56.14-261122-0012"
    with pytest.raises(ValueError):
        dossier_code("H56.14", late_evening_utc, 0)


def test_status_codes_follow_the_national_portal() -> None:
    assert [s.code for s in DossierStatus] == list(range(1, 11))
    assert DossierStatus.ACCEPTED.code == 2 and DossierStatus.RETURNED.code == 10


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("0912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("0987.654.321", "0987654321"),
        ("84912345678", "0912345678"),
        ("02439876543", "02439876543"),
    ],
)
def test_vietnamese_phone_numbers_are_normalised(raw: str, normalised: str) -> None:
    assert vietnamese_phone(raw) == normalised


@pytest.mark.parametrize("raw", ["123", "0112345678", "09123456789", "phone", "+1 202 555 0100", ""])
def test_malformed_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="not a Vietnamese phone number"):
        ApplicantIn(full_name="A", phone=raw)


def test_the_documented_personal_id_pattern_is_what_intake_takes() -> None:
    """make fuzz sent an ID number the OpenAPI document allowed and intake refused: they must agree."""
    documented = ApplicantIn.model_json_schema()["properties"]["id_number"]["anyOf"][0]["pattern"]
    candidates = [f"{p:03d}203004567" for p in range(1000)] + ["\u0660" * 12, "00120300456", "0012030045678", "x" * 12]
    for value in candidates:
        try:
            ApplicantIn(full_name="A", id_number=value)
            taken = True
        except ValidationError:
            taken = False
        assert taken == bool(re.search(documented, value)), value


def test_final_notification_statuses_never_change() -> None:
    check_transition(NotificationStatus.CREATED, NotificationStatus.SENDING)
    check_transition(NotificationStatus.SENDING, NotificationStatus.SENT)
    for final in (
        NotificationStatus.DELIVERED,
        NotificationStatus.PERMANENT_FAILURE,
        NotificationStatus.TECHNICAL_FAILURE,
    ):
        assert final.final
        for other in NotificationStatus:
            with pytest.raises(IllegalTransition):
                check_transition(final, other)
    with pytest.raises(IllegalTransition):
        check_transition(NotificationStatus.CREATED, NotificationStatus.SENT)


def test_a_notification_id_is_derived_from_event_channel_and_recipient() -> None:
    event = uuid.uuid4()
    assert notification_id(event, Channel.SMS, "0912345678") == notification_id(event, Channel.SMS, "0912345678")
    assert notification_id(event, Channel.SMS, "0912345678") != notification_id(event, Channel.EMAIL, "0912345678")
    assert notification_id(event, Channel.SMS, "0912345678") != notification_id(uuid.uuid4(), Channel.SMS, "0912345678")


def test_a_one_stop_route_is_one_step_with_a_stable_id() -> None:
    steps = plan_one_stop("H56.14-261122-0001", "H56.14")
    assert [(s.seq, s.unit_code) for s in steps] == [(1, "H56.14")]
    assert steps[0].step_id == step_id_for("H56.14-261122-0001", 1)


def test_outbox_slots_are_stable_and_spread() -> None:
    keys = [f"H56.14-261122-{n:04d}" for n in range(2000)]
    slots = [slot_for(k) for k in keys]
    assert slots == [slot_for(k) for k in keys]
    assert set(slots) == set(range(OUTBOX_SLOTS))
