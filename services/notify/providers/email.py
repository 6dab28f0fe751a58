"""Email over SMTP (aiosmtplib): a plain-text letter, or plain text and HTML as multipart/alternative."""

from __future__ import annotations

import socket
import time
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
    already has a message: ``lookup`` answers UNKNOWN.

    A connection that sent a letter is kept for the next one (up to ``keep`` of them, each for ``keep_s``
    seconds idle, well under the few minutes relays wait before closing an idle session); a connection that
    failed in any way is closed, never reused."""

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
        keep: int = 8,
        keep_s: float = 5.0,
    ) -> None:
        self.name = name
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout
        self._keep, self._keep_s = keep, keep_s
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._local_hostname = socket.getfqdn()  # aiosmtplib would look it up again for every connection
        self.connections_opened = 0

    async def send(self, message: OutgoingMessage) -> Accepted:
        return await observed(self.name, self.channel.value, self._send(message))

    async def _send(self, message: OutgoingMessage) -> Accepted:
        email = build_email(message, self._sender)
        message_id = str(email["Message-ID"])
        try:
            smtp = await self._connection()
        except aiosmtplib.SMTPConnectError as exc:
            raise ProviderError(f"SMTP unreachable: {exc!r}", permanent=False, provider=self.name) from exc
        except aiosmtplib.SMTPResponseException as exc:  # the greeting, EHLO, STARTTLS or login refused
            raise ProviderError(
                f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600, provider=self.name
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:  # before the letter: not ambiguous
            raise ProviderError(f"SMTP unavailable: {exc!r}", permanent=False, provider=self.name) from exc
        try:
            await smtp.send_message(email)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            smtp.close()
            raise ProviderError(f"recipient refused: {exc}", permanent=_refused(exc), provider=self.name) from exc
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise ProviderError(
                f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600, provider=self.name
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise ProviderError(
                f"SMTP unavailable: {exc!r}", permanent=False, provider=self.name, ambiguous=True
            ) from exc
        except BaseException:
            smtp.close()
            raise
        self._release(smtp)
        return Accepted(reference=message_id, provider=self.name)

    async def _connection(self) -> aiosmtplib.SMTP:
        """The most recently used idle connection still open and fresh enough, or a new one."""
        while self._idle:
            smtp, since = self._idle.pop()
            if smtp.is_connected and time.monotonic() - since < self._keep_s:
                return smtp
            smtp.close()
        smtp = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username or None,
            password=self._password or None,
            start_tls=self._starttls,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )
        await smtp.connect()
        self.connections_opened += 1
        return smtp

    def _release(self, smtp: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self._keep:
            self._idle.append((smtp, time.monotonic()))
        else:
            smtp.close()

    async def lookup(self, notification_id: str) -> Lookup:
        return Lookup(LookupOutcome.UNKNOWN, provider=self.name)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
