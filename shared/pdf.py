"""What every Vietnamese state document the platform prints shares: the Be Vietnam Pro font (the
``fontpkg-be-vietnam-pro`` wheel ships it), NFC text, the long date forms, an A4 page with form lines, and
the national name and motto."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.calendar import VIETNAM_TZ

FONT_FAMILY = "BeVietnamPro"
_FONT_PACKAGE = "fontpkg_be_vietnam_pro"
_FONT_FILES = {"": "Regular", "B": "Bold", "I": "Italic", "BI": "BoldItalic"}
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"


def font_path(style: str = "") -> Path:
    return Path(str(files(_FONT_PACKAGE) / "files" / f"BeVietnamPro-{_FONT_FILES[style]}.ttf"))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _dd(day: int) -> str:
    return f"{day:02d}" if day < 10 else str(day)


def vietnamese_date(moment: datetime) -> str:
    """ "ngày 05 tháng 02 năm 2026": days below 10 and months 1-2 get a leading zero, as on state documents."""
    local = moment.astimezone(VIETNAM_TZ)
    month = f"{local.month:02d}" if local.month <= 2 else str(local.month)
    return f"ngày {_dd(local.day)} tháng {month} năm {local.year}"


def vietnamese_datetime(moment: datetime) -> str:
    """ "08 giờ 30 phút, ngày 24 tháng 11 năm 2026", in Vietnam's time."""
    local = moment.astimezone(VIETNAM_TZ)
    return f"{local.hour:02d} giờ {local.minute:02d} phút, {vietnamese_date(local)}"


class VietnamesePdf(FPDF):
    """An A4 page with the font loaded in every style; ``LINE`` and ``SIZE`` set the form lines."""

    LINE = 6.0
    SIZE = 12.0

    def __init__(self, title: str, orientation: Literal["P", "L"] = "P", left: float = 20, right: float = 15) -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.set_margins(left=left, top=15, right=right)
        self.set_auto_page_break(auto=True, margin=15)
        for style in _FONT_FILES:
            self.add_font(FONT_FAMILY, style, font_path(style))
        self.set_title(nfc(title))
        self.set_creator("lienthong")

    def font(self, style: str = "", size: float = 12) -> None:
        self.set_font(FONT_FAMILY, style, size)

    def field(self, label: str, value: str) -> None:
        """``label`` in regular weight, ``value`` in bold, wrapped together like a filled-in form line."""
        self.set_x(self.l_margin)
        self.font("", self.SIZE)
        self.write(self.LINE, nfc(label))
        self.font("B", self.SIZE)
        self.write(self.LINE, nfc(value))
        self.ln(self.LINE)

    def nation_and_motto(self, x: float, width: float, top: float, size: float) -> None:
        """The national name and the underlined motto, centred in the column at ``x``."""
        self.set_xy(x, top)
        self.font("B", size)
        self.cell(width, 5, NATION, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font("B", 12)
        self.cell(width, 6, MOTTO, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        motto_w, center = self.get_string_width(MOTTO), x + width / 2
        self.line(center - motto_w / 2, self.get_y() + 0.5, center + motto_w / 2, self.get_y() + 0.5)
