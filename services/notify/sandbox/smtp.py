"""A real SMTP server (aiosmtpd) that keeps the messages it receives."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class ReceivedEmail:
    mail_from: str
    rcpt_to: list[str]
    subject: str
    body: str
    headers: dict[str, str]
    received_at: str
    html: str | None = None
    """The HTML alternative, when the letter has one."""


@dataclass
class Mailbox:
    messages: list[ReceivedEmail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body_part = parsed.get_body(preferencelist=("plain", "html"))
        body = body_part.get_content() if body_part is not None else ""
        html_part = parsed.get_body(preferencelist=("html",))
        self.messages.append(
            ReceivedEmail(
                mail_from=envelope.mail_from,
                rcpt_to=list(envelope.rcpt_tos),
                subject=str(parsed.get("Subject", "")),
                body=body,
                headers={k: str(v) for k, v in parsed.items()},
                received_at=datetime.now(UTC).isoformat(),
                html=html_part.get_content() if html_part is not None else None,
            )
        )
        return "250 Message accepted for delivery"


def start_smtp(host: str, port: int) -> tuple[Controller, Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=host, port=port)
    controller.start()
    return controller, mailbox
