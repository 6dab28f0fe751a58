"""Email over SMTP (aiosmtplib): a plain-text letter, or plain text and HTML as multipart/alternative."""

from __future__ import annotations

from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr

import aiosmtplib

from services.notify.domain import Channel
from services.notify.providers.base import Accepted, Lookup, LookupOutcome, OutgoingMessage, ProviderError, observed

MESSAGE_ID_DOMAIN = "lienthong.gov.vn"


def build_email(message: OutgoingMessage, sender: str) -> Message:
    """A MIME message whose Vietnamese headers survive the trip.

    The compat32 ``Header`` splits long UTF-8 headers inside encoded words; the modern policy's folding
    drops the space between two encoded words (CPython's header folder), so "được tiếp" arrived as
    "đượctiếp". With ``html`` set the letter is multipart/alternative: the plain text first, the HTML last
    (the one a mail reader prefers when it can show it).
    """
    email: Message
    if message.html is None:
        email = MIMEText(message.body, "plain", "utf-8")
    else:
        email = MIMEMultipart("alternative")
        email.attach(MIMEText(message.body, "plain", "utf-8"))
        email.attach(MIMEText(message.html, "html", "utf-8"))
    name, address = parseaddr(sender)
    email["From"] = formataddr((str(Header(name, "utf-8")), address)) if name else address
    email["To"] = message.recipient
    email["Subject"] = Header(message.subject or "", "utf-8", header_name="Subject")  # type: ignore[assignment]
    # The notification id itself, so a copy sent again after a crash carries the same Message-ID and mail
    # systems fold the two.
    email["Message-ID"] = f"<{message.id}@{MESSAGE_ID_DOMAIN}>"
    email["X-Lienthong-Notification-Id"] = message.id
    return email


def _refused(exc: aiosmtplib.SMTPRecipientsRefused) -> bool:
    """Permanent when every recipient was refused with a 5xx code (a 4xx is 'try again later')."""
    return all(500 <= r.code < 600 for r in exc.recipients)


class SmtpEmailProvider:
    """Any SMTP relay. 5xx answers are permanent; 4xx answers and connection trouble are transient (a
    timeout or a disconnection once the letter went out is ambiguous). SMTP cannot be asked whether it
    already has a message: ``lookup`` answers UNKNOWN."""

    channel = Channel.EMAIL

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
        name: str = "smtp",
    ) -> None:
        self.name = name
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout

    async def send(self, message: OutgoingMessage) -> Accepted:
        return await observed(self.name, self.channel.value, self._send(message))

    async def _send(self, message: OutgoingMessage) -> Accepted:
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
            raise ProviderError(f"recipient refused: {exc}", permanent=_refused(exc), provider=self.name) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise ProviderError(
                f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600, provider=self.name
            ) from exc
        except aiosmtplib.SMTPConnectError as exc:
            raise ProviderError(f"SMTP unreachable: {exc!r}", permanent=False, provider=self.name) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ProviderError(
                f"SMTP unavailable: {exc!r}", permanent=False, provider=self.name, ambiguous=True
            ) from exc
        return Accepted(reference=message_id, provider=self.name)

    async def lookup(self, notification_id: str) -> Lookup:
        return Lookup(LookupOutcome.UNKNOWN, provider=self.name)

    async def close(self) -> None:
        """Each send opens its own connection: nothing to close."""
