"""Personal data out of the logs: phone numbers, personal ID numbers and email addresses are masked in
every log line, whatever logged them (our code, a library's exception, an HTTP client's request line).
No I/O here."""

from __future__ import annotations

import re

# A Vietnamese mobile or landline number, national (0…) or international (84…, +84…), with or without
# spaces and dots between digits; not part of a longer word or code (a dossier code's sequence, a UUID, a
# Kafka offset after "@").
_PHONE = re.compile(r"(?<![\w.\-/@])(?:\+?84|0)(?:[ .]?\d){8,10}(?![\w\-])")
# A citizen ID card (CCCD, 12 digits) or an old ID card (CMND, 9 digits), standing alone.
_PERSONAL_ID = re.compile(r"(?<![\w.\-/@])(?:\d{12}|\d{9})(?![\w\-])")
_EMAIL = re.compile(r"\b([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)\b")


def _keep_last(match: re.Match[str], shown: int = 3) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * (len(digits) - shown) + digits[-shown:]


def mask_personal_data(text: str) -> str:
    """The text with phone numbers and ID numbers reduced to their last three digits and email addresses
    to their first letter and domain: enough to tell two apart in an incident, not to reach the person."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _PHONE.sub(_keep_last, text)
    return _PERSONAL_ID.sub(_keep_last, text)
