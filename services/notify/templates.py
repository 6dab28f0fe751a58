"""Citizen message texts (Vietnamese). Issue 6 turns these into versioned template data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Rendered:
    template: str
    version: int
    subject: str | None
    body: str


def vn_datetime(at: datetime) -> str:
    local = at.astimezone(VN_TZ)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def received_sms(code: str, received_at: datetime, link: str) -> Rendered:
    body = f"Hồ sơ {code} đã được tiếp nhận lúc {vn_datetime(received_at)}. Tra cứu: {link}"
    return Rendered("dossier.received", 1, None, body)


def received_email(name: str, code: str, received_at: datetime, link: str) -> Rendered:
    body = (
        f"Kính gửi Ông/Bà {name},\n\n"
        f"Hồ sơ của Ông/Bà đã được tiếp nhận lúc {vn_datetime(received_at)}.\n"
        f"Mã hồ sơ: {code}\n"
        f"Tra cứu tình trạng hồ sơ: {link}\n\n"
        "Trân trọng,\nBộ phận Một cửa"
    )
    return Rendered("dossier.received", 1, f"Hồ sơ {code} đã được tiếp nhận", body)
