"""Signed handovers and callbacks: a good signature passes, a wrong one or a stale timestamp is refused."""

from __future__ import annotations

import pytest

from shared.web.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    signature,
    signed_headers,
    verify,
)

SECRET = "a-shared-secret-of-some-length"
BODY = b'{"delivery_id":"d-1","acknowledged_at":"2026-11-23T09:00:00+07:00"}'
NOW = 1_795_000_000


def test_a_good_signature_passes_and_gives_the_timestamp() -> None:
    headers = signed_headers(SECRET, NOW, BODY)
    assert headers[SIGNATURE_HEADER].startswith("sha256=") and len(headers[SIGNATURE_HEADER]) == 7 + 64
    assert verify(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], BODY, now=NOW + 30) == NOW


def test_a_known_vector() -> None:
    # HMAC-SHA256 of "<timestamp>.<body>": computable by any external system with standard tools.
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1795000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, NOW, BODY) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("secret", "body", "timestamp"),
    [
        ("another-secret-entirely-xx", BODY, NOW),  # signed with another secret
        (SECRET, BODY + b" ", NOW),  # the body changed after signing
        (SECRET, BODY, NOW + 1),  # the timestamp changed after signing: it is in the signed material
    ],
)
def test_a_bad_signature_is_refused(secret: str, body: bytes, timestamp: int) -> None:
    sig = signature(secret, NOW, BODY)  # what the sender signed; the receiver checks with SECRET
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, str(timestamp), sig, body, now=NOW)


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_a_stale_or_future_timestamp_is_refused_even_when_well_signed(age: int) -> None:
    """A replay of a captured request more than five minutes later fails, however good its signature."""
    sig = signature(SECRET, NOW, BODY)
    with pytest.raises(SignatureError, match="replay refused"):
        verify(SECRET, str(NOW), sig, BODY, now=NOW + age)


def test_five_minutes_old_is_still_fresh() -> None:
    assert verify(SECRET, str(NOW), signature(SECRET, NOW, BODY), BODY, now=NOW + 300) == NOW


@pytest.mark.parametrize(
    ("timestamp", "sig"),
    [(None, "sha256=00"), (str(NOW), None), ("", ""), ("12:00", "sha256=00"), (str(NOW), "md5=abc")],
)
def test_missing_or_malformed_headers_are_refused(timestamp: str | None, sig: str | None) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, timestamp, sig, BODY, now=NOW)
