"""The public postal operator's (BCCI) order API: pick a dossier up from the citizen, or deliver a result.

``POST {base}/orders`` with ``Authorization: Bearer <token>`` and ``Idempotency-Key: <order_id>``:
201 created, or 200 when the key was seen before (the first answer again, the same tracking number);
5xx, 429, timeouts and transport errors are transient; any other 4xx is permanent.
``GET {base}/orders/{order_id}``: 200 the order, 404 none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from services.notify.providers.base import (
    ProviderError,
    http_client,
    json_object,
    observed,
    status_failure,
    transport_failure,
)

PostalKind = Literal["pickup", "delivery"]
CHANNEL = "postal"
"""The ``channel`` label of the postal operator's metrics."""


@dataclass(frozen=True)
class PostalOrderRequest:
    order_id: str
    """Ours, derived from the dossier and the kind: the idempotency key."""
    kind: PostalKind
    dossier_code: str
    name: str
    phone: str | None
    address: str
    note: str = ""


@dataclass(frozen=True)
class PostalOrderCreated:
    order_id: str
    tracking_number: str
    """The operator's mã vận đơn, told to the citizen."""
    status: str


class PostalClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        *,
        name: str = "postal",
    ) -> None:
        self.name = name
        self._client = http_client(base_url, transport, timeout, {"Authorization": f"Bearer {token}"})

    async def create_order(self, order: PostalOrderRequest) -> PostalOrderCreated:
        return await observed(self.name, CHANNEL, self._create(order))

    async def _create(self, order: PostalOrderRequest) -> PostalOrderCreated:
        try:
            response = await self._client.post(
                "/orders", json=asdict(order), headers={"Idempotency-Key": order.order_id}
            )
        except httpx.HTTPError as exc:
            raise transport_failure(self.name, exc) from exc
        if response.status_code in (200, 201):
            return self._order(response)
        raise status_failure(self.name, response)

    async def get_order(self, order_id: str) -> PostalOrderCreated | None:
        try:
            response = await self._client.get(f"/orders/{quote(order_id, safe='')}")
        except httpx.HTTPError as exc:
            raise transport_failure(self.name, exc) from exc
        if response.status_code == 404:
            return None
        if response.status_code == 200:
            return self._order(response)
        raise status_failure(self.name, response)

    def _order(self, response: httpx.Response) -> PostalOrderCreated:
        data: dict[str, Any] = json_object(self.name, response)
        try:
            return PostalOrderCreated(
                order_id=str(data["order_id"]),
                tracking_number=str(data["tracking_number"]),
                status=str(data["status"]),
            )
        except KeyError as exc:
            raise ProviderError(
                f"HTTP {response.status_code} without {exc.args[0]}",
                permanent=False,
                provider=self.name,
                ambiguous=True,
            ) from exc

    async def close(self) -> None:
        await self._client.aclose()
