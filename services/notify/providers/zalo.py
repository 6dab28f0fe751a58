"""Zalo ZNS (Zalo Notification Service): template messages from the province's Official Account.

``POST {base}/message/template`` with header ``access_token`` and JSON
``{phone: "84912345678", template_id, template_data: {...}, tracking_id: <our notification id>}``.
Zalo answers HTTP 200 even on errors, with ``{error: int, message: str, data: {msg_id, ...}}``:

- ``error`` 0: accepted, ``data.msg_id`` is Zalo's message id;
- ``TRANSIENT_ERRORS`` (and HTTP 429/5xx, timeouts, transport errors): retrying later can help;
- any other code: permanent (-108 invalid phone, -118 no Zalo account, -109…-114 template errors, …).

Duplicates: Zalo itself does not promise to refuse a second message with the same ``tracking_id`` (it only
echoes it back). The sandbox answers error 0 with the original ``msg_id``, like an SMS operator's 409; in
production, ``lookup`` before resending is what prevents a second message after an ambiguous failure.

``lookup``: ``GET {base}/message/status?tracking_id=…`` → error 0 with ``data.msg_id``: found; error
``NOT_FOUND_ERROR``: not found; anything else: unknown.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.notify.domain import Channel
from services.notify.providers.base import (
    Accepted,
    Lookup,
    LookupOutcome,
    OutgoingMessage,
    ProviderError,
    http_client,
    json_object,
    observed,
    status_failure,
    transport_failure,
)

TRANSIENT_ERRORS: dict[int, str] = {
    -1: "internal error",
    -100: "unknown error, try again later",
    -115: "out of quota: the ZNS account's balance is exhausted",
    -124: "access token invalid or expired (refreshed out of band)",
    -133: "outside the hours ZNS may be sent",
    -144: "the Official Account's daily quota is exceeded",
}
"""ZNS error codes after which retrying later can help; every other non-zero code is permanent."""

NOT_FOUND_ERROR = -107
"""``message/status``: no message with this id (ZNS's 'Message ID invalid')."""

_SEPARATORS = re.compile(r"[\s.\-()]")
_VN_MOBILE = re.compile(r"84[35789]\d{8}")


def normalise_phone(raw: str) -> str:
    """A Vietnamese mobile number as ZNS wants it: "0912 345.678" or "+84 912 345 678" → "84912345678".
    Raises ValueError for anything that is not a Vietnamese mobile number."""
    digits = _SEPARATORS.sub("", raw.strip()).removeprefix("+")
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    if not _VN_MOBILE.fullmatch(digits):
        raise ValueError(f"{raw!r} is not a Vietnamese mobile number")
    return digits


def error_is_permanent(code: int) -> bool:
    return code not in TRANSIENT_ERRORS


class ZaloZnsProvider:
    channel = Channel.ZALO

    def __init__(
        self,
        name: str,
        base_url: str,
        access_token: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._client = http_client(base_url, transport, timeout, {"access_token": access_token})

    async def send(self, message: OutgoingMessage) -> Accepted:
        return await observed(self.name, self.channel.value, self._send(message))

    async def _send(self, message: OutgoingMessage) -> Accepted:
        if not message.zalo_template_id:
            raise ProviderError("the message has no ZNS template", permanent=True, provider=self.name)
        try:
            phone = normalise_phone(message.recipient)
        except ValueError as exc:
            raise ProviderError(str(exc), permanent=True, provider=self.name) from exc
        body = {
            "phone": phone,
            "template_id": message.zalo_template_id,
            "template_data": dict(message.zalo_params),
            "tracking_id": message.id,
        }
        try:
            response = await self._client.post("/message/template", json=body)
        except httpx.HTTPError as exc:
            raise transport_failure(self.name, exc) from exc
        if response.status_code != 200:
            raise status_failure(self.name, response)
        answer = json_object(self.name, response)
        code = _code(answer)
        if code != 0:
            raise ProviderError(
                f"ZNS error {code}: {answer.get('message', '')}", permanent=error_is_permanent(code), provider=self.name
            )
        msg_id = _data(answer).get("msg_id")
        if not msg_id:
            raise ProviderError("ZNS error 0 without a msg_id", permanent=False, provider=self.name, ambiguous=True)
        return Accepted(reference=str(msg_id), provider=self.name)

    async def lookup(self, notification_id: str) -> Lookup:
        try:
            response = await self._client.get("/message/status", params={"tracking_id": notification_id})
            answer = json_object(self.name, response) if response.status_code == 200 else {}
        except (httpx.HTTPError, ProviderError):
            return Lookup(LookupOutcome.UNKNOWN, provider=self.name)
        code = _code(answer) if answer else None
        msg_id = _data(answer).get("msg_id")
        if code == 0 and msg_id:
            return Lookup(LookupOutcome.FOUND, reference=str(msg_id), provider=self.name)
        if code == NOT_FOUND_ERROR:
            return Lookup(LookupOutcome.NOT_FOUND, provider=self.name)
        return Lookup(LookupOutcome.UNKNOWN, provider=self.name)

    async def close(self) -> None:
        await self._client.aclose()


def _code(answer: dict[str, Any]) -> int:
    code = answer.get("error")
    return code if isinstance(code, int) else -1


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer.get("data")
    return data if isinstance(data, dict) else {}
