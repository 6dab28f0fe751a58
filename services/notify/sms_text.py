"""The SMS text policy: one explicit encoding, and parts counted the way the operator counts them.

``UNICODE`` sends UCS-2: 70 UTF-16 code units in a single part, 67 per part of a multi-part message (the
rest of each part is the concatenation header); a character outside the Basic Multilingual Plane (an
emoji) takes two code units. ``ASCII`` removes the accents and sends GSM 03.38 7-bit: 160 septets in a
single part, 153 per part; a character of the extension table (``^ { } \\ [ ~ ] | €`` and form feed) is
an escape plus the character, two septets.

Parts of a multi-part message are counted by greedy packing that never splits a two-unit character (an
escape pair or a surrogate pair) across parts, as handsets and gateways split them; this can need one
part more than ``ceil(units / per_part)``. Pure code, no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class SmsEncoding(StrEnum):
    UNICODE = "unicode"
    ASCII = "ascii"


# GSM 03.38 basic character set (the escape 0x1B itself excluded) and its extension table.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM = GSM_BASIC | GSM_EXTENSION

# (single-part capacity, per-part capacity in a multi-part message)
_CAPACITY = {SmsEncoding.UNICODE: (70, 67), SmsEncoding.ASCII: (160, 153)}

_REPLACEMENTS: dict[str, str] = {
    "đ": "d",
    "Đ": "D",
    "Ð": "D",  # Icelandic eth, often typed for Đ
    "ð": "d",
    "…": "...",
    "•": "-",
    "·": "-",
    "×": "x",
    "\t": " ",
    **dict.fromkeys("–—‒―−‐‑", "-"),
    **dict.fromkeys("“”„‟«»″", '"'),
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("\u00a0\u202f\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u3000", " "),
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff", ""),  # zero-width characters vanish
}


def strip_accents(text: str) -> str:
    """Vietnamese (or any text) as GSM 03.38: accents and every combining mark removed, ``đ`` → ``d``,
    typographic punctuation mapped to its plain form, and any other character outside GSM → ``?``."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        replacement = _REPLACEMENTS.get(char)
        if replacement is not None:
            out.append(replacement)
            continue
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.category(c).startswith("M"))
        out.append(base if all(c in GSM for c in base) else "?")
    return "".join(out)


@dataclass(frozen=True)
class SmsText:
    """The text as sent, its encoding, its length in the operator's units, and the parts it costs."""

    text: str
    encoding: SmsEncoding
    units: int
    parts: int


def _widths(text: str, encoding: SmsEncoding) -> list[int]:
    if encoding is SmsEncoding.UNICODE:
        return [2 if ord(c) > 0xFFFF else 1 for c in text]
    return [2 if c in GSM_EXTENSION else 1 for c in text]


def _parts(widths: list[int], single: int, per_part: int) -> int:
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > per_part:
            parts, used = parts + 1, 0
        used += width
    return parts


def prepare_sms(text: str, policy: SmsEncoding) -> SmsText:
    """The text to send under ``policy`` (accents removed under ASCII, NFC under UNICODE) and its cost.

    Raises ValueError on an empty text: an SMS of no characters is never sent."""
    policy = SmsEncoding(policy)
    prepared = strip_accents(text) if policy is SmsEncoding.ASCII else unicodedata.normalize("NFC", text)
    if not prepared:
        raise ValueError("an SMS needs some text")
    widths = _widths(prepared, policy)
    single, per_part = _CAPACITY[policy]
    return SmsText(prepared, policy, sum(widths), _parts(widths, single, per_part))
