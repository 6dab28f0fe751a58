"""Providers, each behind one interface. HTTP providers take an httpx transport, the seam tests and
sandboxes use instead of patching."""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, make_msgid, parseaddr
from typing import Protocol

import aiosmtplib
import httpx

from services.notify.domain import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    channel: Channel
    recipient: str
    subject: str | None
    body: str


class ProviderError(Exception):
    """A provider refused or failed. ``permanent`` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Provider(Protocol):
    channel: Channel
    name: str

    async def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; returns the provider's reference. Raises ProviderError."""
        ...


def build_email(message: OutgoingMessage, sender: str) -> Message:
    """A MIME message whose Vietnamese headers survive the trip.

    The compat32 ``Header`` splits long UTF-8 headers inside encoded words; the modern policy's folding
    drops the space between two encoded words (CPython's header folder), so "được tiếp" arrived as
    "đượctiếp".
    """
    email = MIMEText(message.body, "plain", "utf-8")
    name, address = parseaddr(sender)
    email["From"] = formataddr((str(Header(name, "utf-8")), address)) if name else address
    email["To"] = message.recipient
    email["Subject"] = Header(message.subject or "", "utf-8", header_name="Subject")  # type: ignore[assignment]
    email["Message-ID"] = make_msgid(idstring=message.id, domain="lienthong.gov.vn")
    email["X-Lienthong-Notification-Id"] = message.id
    return email


class SmtpEmailProvider:
    channel = Channel.EMAIL
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout

    async def send(self, message: OutgoingMessage) -> str:
        email = build_email(message, self._sender)
        message_id = str(email["Message-ID"])
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                username=self._username or None,
                password=self._password or None,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise ProviderError(f"recipient refused: {exc}", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise ProviderError(f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ProviderError(f"SMTP unavailable: {exc!r}", permanent=False) from exc
        return message_id


class HttpSmsProvider:
    """A brand-name SMS operator's HTTP API: ``POST {base}/messages`` with our id as the reference."""

    channel = Channel.SMS

    def __init__(
        self,
        base_url: str,
        token: str,
        brandname: str,
        *,
        name: str = "sms",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._brandname = brandname
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def send(self, message: OutgoingMessage) -> str:
        body = {
            "reference": message.id,
            "to": message.recipient,
            "text": message.body,
            "brandname": self._brandname,
        }
        try:
            response = await self._client.post("/messages", json=body)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"timed out: {exc!r}", permanent=False) from exc
        except httpx.TransportError as exc:
            raise ProviderError(f"unreachable: {exc!r}", permanent=False) from exc
        if response.status_code == 409:
            # The operator already has this reference: the earlier attempt went through.
            return str(response.json().get("message_id", message.id))
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=False)
        if response.status_code >= 400:
            raise ProviderError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=True)
        return str(response.json()["message_id"])

    async def close(self) -> None:
        await self._client.aclose()
