"""Signed HTTP requests between the platform and systems outside it: external registries, SMS, Zalo and
postal operators. No I/O here.

Both directions sign the same way with the shared secret: ``X-Lienthong-Timestamp`` carries the Unix time
in seconds, and ``X-Lienthong-Signature`` is ``sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<raw body>``.
Putting the timestamp in the signed material lets the receiver refuse replays: a request whose timestamp is
more than five minutes away from its own clock is rejected, however good its signature.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Lienthong-Signature"
TIMESTAMP_HEADER = "X-Lienthong-Timestamp"
TOLERANCE_S = 300
_PREFIX = "sha256="


class SignatureError(ValueError):
    """The request is not signed with the shared secret, or its timestamp is stale."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Lienthong-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str, timestamp: str | None, sig: str | None, body: bytes, *, now: float, tolerance: int = TOLERANCE_S
) -> int:
    """Check a request's signature and freshness; returns its timestamp or raises SignatureError."""
    if not timestamp or not sig:
        raise SignatureError(f"the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix time in seconds")
    at = int(timestamp)
    if abs(now - at) > tolerance:
        raise SignatureError(f"the timestamp is more than {tolerance // 60} minutes away from now: replay refused")
    if not sig.startswith(_PREFIX) or not hmac.compare_digest(sig, signature(secret, at, body)):
        raise SignatureError("the signature does not match the body and timestamp")
    return at
