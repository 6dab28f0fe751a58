"""A brand-name SMS operator's HTTP API.

``POST {base}/messages`` with ``{reference, to, text, brandname}`` and ``Authorization: Bearer <token>``:

- 202 ``{message_id}``: accepted;
- 409 ``{message_id}``: the operator already has this reference — an earlier attempt went through, so it
  counts as accepted, with the operator's original message id;
- 429, 5xx, timeouts, transport errors: transient; any other 4xx: permanent.

``GET {base}/messages/{reference}``: 200 ``{message_id, …}`` found, 404 not found, anything else unknown.
"""

from __future__ import annotations

from urllib.parse import quote

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


class HttpSmsProvider:
    channel = Channel.SMS

    def __init__(
        self,
        name: str,
        base_url: str,
        token: str,
        brandname: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._brandname = brandname
        self._client = http_client(base_url, transport, timeout, {"Authorization": f"Bearer {token}"})

    async def send(self, message: OutgoingMessage) -> Accepted:
        return await observed(self.name, self.channel.value, self._send(message))

    async def _send(self, message: OutgoingMessage) -> Accepted:
        body = {"reference": message.id, "to": message.recipient, "text": message.body, "brandname": self._brandname}
        try:
            response = await self._client.post("/messages", json=body)
        except httpx.HTTPError as exc:
            raise transport_failure(self.name, exc) from exc
        if response.status_code in (200, 201, 202, 409):
            # 409: the operator already has this reference, so the earlier attempt went through.
            message_id = json_object(self.name, response).get("message_id")
            if not message_id:
                raise ProviderError(
                    f"HTTP {response.status_code} without a message_id",
                    permanent=False,
                    provider=self.name,
                    ambiguous=True,
                )
            return Accepted(reference=str(message_id), provider=self.name)
        raise status_failure(self.name, response)

    async def lookup(self, notification_id: str) -> Lookup:
        try:
            response = await self._client.get(f"/messages/{quote(notification_id, safe='')}")
        except httpx.HTTPError:
            return Lookup(LookupOutcome.UNKNOWN, provider=self.name)
        if response.status_code == 404:
            return Lookup(LookupOutcome.NOT_FOUND, provider=self.name)
        if response.status_code == 200:
            try:
                message_id = response.json().get("message_id")
            except (ValueError, AttributeError):
                message_id = None
            if message_id:
                return Lookup(LookupOutcome.FOUND, reference=str(message_id), provider=self.name)
        return Lookup(LookupOutcome.UNKNOWN, provider=self.name)

    async def close(self) -> None:
        await self._client.aclose()
