"""notify's pure rules: who is reached on which channel, the fallback chain, quiet hours, retries, keywords."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.domain import (
    RETRY_DELAYS,
    Channel,
    Contact,
    Delivery,
    IllegalTransition,
    NotificationStatus,
    QuietHours,
    check_transition,
    fallback_delivery,
    national_number,
    plan_deliveries,
    postal_order_id,
    retry_delay,
    sms_keyword,
)
from services.notify.notifications import decode_data, encode_data

ALL = {Channel.SMS, Channel.ZALO, Channel.EMAIL}
PHONE, EMAIL = "0912345678", "an@example.vn"


def test_a_citizen_is_reached_on_one_phone_channel_and_by_email() -> None:
    contact = Contact(PHONE, EMAIL)
    assert plan_deliveries(contact, ALL, set()) == [Delivery(Channel.SMS, PHONE), Delivery(Channel.EMAIL, EMAIL)]


def test_the_citizens_order_decides_the_phone_channel() -> None:
    contact = Contact(PHONE, EMAIL, (Channel.ZALO, Channel.SMS))
    assert plan_deliveries(contact, ALL, set()) == [Delivery(Channel.ZALO, PHONE)]


def test_a_channel_the_template_lacks_or_the_citizen_left_is_skipped() -> None:
    contact = Contact(PHONE, EMAIL)
    assert plan_deliveries(contact, {Channel.ZALO, Channel.EMAIL}, set()) == [
        Delivery(Channel.ZALO, PHONE),
        Delivery(Channel.EMAIL, EMAIL),
    ]
    assert plan_deliveries(contact, ALL, {(Channel.SMS, PHONE)})[0] == Delivery(Channel.ZALO, PHONE)
    assert plan_deliveries(Contact(PHONE, EMAIL, ()), ALL, set()) == []
    assert plan_deliveries(Contact(None, None), ALL, set()) == []


def test_fallback_goes_sms_then_zalo_then_email_skipping_what_the_event_used() -> None:
    contact = Contact(PHONE, EMAIL)
    assert fallback_delivery(contact, Channel.SMS, ALL, set(), [Channel.SMS]) == Delivery(Channel.ZALO, PHONE)
    assert fallback_delivery(contact, Channel.ZALO, ALL, set(), [Channel.SMS, Channel.ZALO]) == Delivery(
        Channel.EMAIL, EMAIL
    )
    # The event's email went already: a failed SMS falls back to Zalo, a failed Zalo to nothing.
    assert fallback_delivery(contact, Channel.ZALO, ALL, set(), [Channel.SMS, Channel.ZALO, Channel.EMAIL]) is None
    # Zalo opted out: straight to email.
    assert fallback_delivery(contact, Channel.SMS, ALL, {(Channel.ZALO, PHONE)}, [Channel.SMS]) == Delivery(
        Channel.EMAIL, EMAIL
    )
    assert fallback_delivery(contact, Channel.EMAIL, ALL, set(), [Channel.SMS, Channel.EMAIL]) is None


def test_a_receipt_may_overtake_our_record_and_a_failed_one_follows_a_send() -> None:
    check_transition(NotificationStatus.SENDING, NotificationStatus.DELIVERED)  # a receipt before our record
    check_transition(NotificationStatus.SENT, NotificationStatus.PERMANENT_FAILURE)  # a failed receipt
    check_transition(NotificationStatus.TEMPORARY_FAILURE, NotificationStatus.TECHNICAL_FAILURE)  # retries exhausted
    with pytest.raises(IllegalTransition):
        check_transition(NotificationStatus.CREATED, NotificationStatus.DELIVERED)


VN = timedelta(hours=7)


@pytest.mark.parametrize(
    ("local", "released"),
    [
        (datetime(2026, 12, 2, 20, 59), None),
        (datetime(2026, 12, 2, 21, 0), datetime(2026, 12, 3, 7, 0)),
        (datetime(2026, 12, 2, 23, 30), datetime(2026, 12, 3, 7, 0)),
        (datetime(2026, 12, 3, 3, 0), datetime(2026, 12, 3, 7, 0)),
        (datetime(2026, 12, 3, 7, 0), None),
        (datetime(2026, 12, 3, 12, 0), None),
    ],
)
def test_quiet_hours_hold_messages_from_21_to_7_vietnam_time(local: datetime, released: datetime | None) -> None:
    at = (local - VN).replace(tzinfo=UTC)
    release = QuietHours().release_at(at)
    if released is None:
        assert release is None
    else:
        assert release is not None and release.astimezone(UTC) == (released - VN).replace(tzinfo=UTC)


def test_quiet_hours_within_one_day_and_switched_off() -> None:
    lunch = QuietHours(time(11, 30), time(13, 30))
    noon = (datetime(2026, 12, 2, 12, 0) - VN).replace(tzinfo=UTC)
    assert lunch.release_at(noon) == (datetime(2026, 12, 2, 13, 30) - VN).replace(tzinfo=UTC)
    assert QuietHours(time(0, 0), time(0, 0)).release_at(noon) is None


def test_retries_are_spread_over_hours_then_stop() -> None:
    delays = [retry_delay(n) for n in range(1, len(RETRY_DELAYS) + 1)]
    assert delays == sorted(delays)  # type: ignore[type-var]
    assert sum(RETRY_DELAYS, timedelta()) > timedelta(hours=12)
    assert retry_delay(len(RETRY_DELAYS) + 1) is None
    with pytest.raises(ValueError):
        retry_delay(0)


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("TC", "opt-out"),
        (" tc ", "opt-out"),
        ("Hủy", "opt-out"),
        ("HUY", "opt-out"),
        ("STOP", "opt-out"),
        ("DK", "opt-in"),
        ("đk", "opt-in"),
        ("Cảm ơn", None),
        ("", None),
    ],
)
def test_sms_keywords_ignore_case_and_accents(text: str, meaning: str | None) -> None:
    assert sms_keyword(text) == meaning


def test_phone_numbers_are_compared_in_national_form() -> None:
    assert national_number("84912345678") == "0912345678"
    assert national_number("+84 912 345 678") == "0912345678"
    assert national_number("0912.345.678") == "0912345678"


def test_one_postal_order_of_each_kind_per_dossier() -> None:
    assert postal_order_id("H56.101-261202-0001", "pickup") == postal_order_id("H56.101-261202-0001", "pickup")
    assert postal_order_id("H56.101-261202-0001", "pickup") != postal_order_id("H56.101-261202-0001", "delivery")


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.one_of(
            st.text(),
            st.integers(),
            st.datetimes(timezones=st.just(UTC)),
            st.dates(),
            st.lists(st.text(), max_size=3),
        ),
        max_size=5,
    )
)
def test_template_values_survive_storage_with_their_types(data: dict[str, object]) -> None:
    assert decode_data(encode_data(data)) == data


def test_stored_instants_keep_their_zone() -> None:
    at = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
    decoded = decode_data(encode_data({"at": at, "day": date(2026, 12, 2)}))
    assert decoded["at"] == at and isinstance(decoded["day"], date)
