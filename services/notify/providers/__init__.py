"""Providers, each behind one interface (``Provider``): email over SMTP, brand-name SMS operators over HTTP,
Zalo ZNS, and the postal operator's order API. HTTP providers take an httpx transport, the seam tests and
sandboxes use instead of patching. ``FailoverProvider`` and ``Throttled`` wrap providers of one channel."""

from services.notify.providers.base import (
    PROVIDER_ERRORS,
    PROVIDER_SECONDS,
    Accepted,
    Lookup,
    LookupOutcome,
    OutgoingMessage,
    Provider,
    ProviderError,
)
from services.notify.providers.email import SmtpEmailProvider, build_email
from services.notify.providers.failover import FailoverProvider
from services.notify.providers.postal import PostalClient, PostalKind, PostalOrderCreated, PostalOrderRequest
from services.notify.providers.sms import HttpSmsProvider
from services.notify.providers.throttle import Throttled, TokenBucket
from services.notify.providers.zalo import TRANSIENT_ERRORS as ZALO_TRANSIENT_ERRORS
from services.notify.providers.zalo import ZaloZnsProvider, normalise_phone

__all__ = [
    "PROVIDER_ERRORS",
    "PROVIDER_SECONDS",
    "ZALO_TRANSIENT_ERRORS",
    "Accepted",
    "FailoverProvider",
    "HttpSmsProvider",
    "Lookup",
    "LookupOutcome",
    "OutgoingMessage",
    "PostalClient",
    "PostalKind",
    "PostalOrderCreated",
    "PostalOrderRequest",
    "Provider",
    "ProviderError",
    "SmtpEmailProvider",
    "Throttled",
    "TokenBucket",
    "ZaloZnsProvider",
    "build_email",
    "normalise_phone",
]
