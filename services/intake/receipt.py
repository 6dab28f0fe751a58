"""The receipt and appointment slip (Giấy tiếp nhận hồ sơ và hẹn trả kết quả) as an A4 PDF and as JSON.

Pure rendering: no database, no web framework. The layout follows the official form: agency and
national motto header, title, dossier code, numbered fields, documents table, signature blocks; a
QR code of the public tracking URL with the dossier code under it. Vietnamese text is embedded with
the Be Vietnam Pro TrueType font, which the ``fontpkg-be-vietnam-pro`` wheel ships.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

import segno
from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from shared.pdf import VietnamesePdf, nfc, vietnamese_date, vietnamese_datetime

_PERSONAL_ID = re.compile(r"^\d{12}$")


class DocumentForm(StrEnum):
    ORIGINAL = "original"
    CERTIFIED_COPY = "certified_copy"
    COPY = "copy"

    @property
    def label(self) -> str:
        return {"original": "Bản chính", "certified_copy": "Bản sao chứng thực", "copy": "Bản sao"}[self.value]


class TimeUnit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"

    @property
    def label(self) -> str:
        return "ngày làm việc" if self is TimeUnit.WORKING_DAYS else "ngày"


class ReturnMethod(StrEnum):
    AT_DESK = "at_desk"
    POST = "post"
    ONLINE = "online"

    @property
    def label(self) -> str:
        return {
            "at_desk": "Tại Bộ phận Một cửa",
            "post": "Qua dịch vụ bưu chính công ích",
            "online": "Trực tuyến",
        }[self.value]


@dataclass(frozen=True)
class Applicant:
    """What the desk wrote down; an online submission may lack the ID number, address or phone."""

    full_name: str
    id_number: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        _check_personal_id(self.id_number)


@dataclass(frozen=True)
class Proxy:
    full_name: str
    id_number: str | None = None
    relationship: str | None = None

    def __post_init__(self) -> None:
        _check_personal_id(self.id_number)


def _check_personal_id(value: str | None) -> None:
    if value is not None and not _PERSONAL_ID.match(value):
        raise ValueError("a personal ID number has 12 digits")


@dataclass(frozen=True)
class DocumentItem:
    name: str
    copies: int
    form: DocumentForm


@dataclass(frozen=True)
class ReceiptData:
    dossier_code: str
    unit_code: str
    unit_name: str
    parent_name: str  # the unit's governing body, e.g. "ỦY BAN NHÂN DÂN TỈNH LÂM ĐỒNG"
    applicant: Applicant
    procedure_code: str
    procedure_name: str
    documents: tuple[DocumentItem, ...]
    processing_time: float
    processing_time_unit: TimeUnit
    received_at: datetime
    appointment_at: datetime
    return_method: ReturnMethod
    tracking_book_number: str
    tracking_url: str
    proxy: Proxy | None = None
    officer_name: str | None = None
    place_name: str = ""  # printed before the date line: "Đà Lạt, ngày …"
    dossier_sets: int = 1

    def __post_init__(self) -> None:
        for name in ("received_at", "appointment_at"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.processing_time < 0 or self.dossier_sets < 1:
            raise ValueError("processing time must not be negative, and there is at least one dossier set")


def processing_time_text(data: ReceiptData) -> str:
    if data.processing_time == 0:
        return "trong ngày"
    amount = f"{data.processing_time:g}".replace(".", ",")
    return f"{amount} {data.processing_time_unit.label}"


def receipt_json(data: ReceiptData) -> dict[str, Any]:
    """Every field of the slip, JSON-ready: ISO datetimes plus the Vietnamese strings as printed."""
    doc = asdict(data)
    doc.update(
        documents=[{**asdict(d), "form": d.form.value, "form_text": d.form.label} for d in data.documents],
        processing_time_unit=data.processing_time_unit.value,
        processing_time_text=processing_time_text(data),
        received_at=data.received_at.isoformat(),
        received_at_text=vietnamese_datetime(data.received_at),
        appointment_at=data.appointment_at.isoformat(),
        appointment_at_text=vietnamese_datetime(data.appointment_at),
        return_method=data.return_method.value,
        return_method_text=data.return_method.label,
    )
    return doc


def receipt_from_json(doc: dict[str, Any]) -> ReceiptData:
    """The inverse of :func:`receipt_json` (the ``*_text`` strings are derived, so they are ignored)."""
    raw = {f.name: doc[f.name] for f in fields(ReceiptData)}
    raw.update(
        applicant=Applicant(**doc["applicant"]),
        proxy=None if doc["proxy"] is None else Proxy(**doc["proxy"]),
        documents=tuple(DocumentItem(d["name"], d["copies"], DocumentForm(d["form"])) for d in doc["documents"]),
        processing_time_unit=TimeUnit(doc["processing_time_unit"]),
        received_at=datetime.fromisoformat(doc["received_at"]),
        appointment_at=datetime.fromisoformat(doc["appointment_at"]),
        return_method=ReturnMethod(doc["return_method"]),
    )
    return ReceiptData(**raw)


def tracking_qr(data: ReceiptData) -> segno.QRCode:
    return segno.make(data.tracking_url, error="m", micro=False)


class _Slip(VietnamesePdf):
    LINE = 5.6
    SIZE = 11.5

    def __init__(self) -> None:
        super().__init__("Giấy tiếp nhận hồ sơ và hẹn trả kết quả")

    def line_text(self, text: str, style: str = "", size: float = 11.5, align: str = "L") -> None:
        self.font(style, size)
        self.multi_cell(0, self.LINE, nfc(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _header(pdf: _Slip, data: ReceiptData) -> None:
    left_w, top = 88.0, pdf.get_y()
    pdf.font("", 10.5)
    pdf.multi_cell(left_w, 5, nfc(data.parent_name.upper()), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font("B", 10.5)
    pdf.multi_cell(left_w, 5, nfc(data.unit_name.upper()), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    pdf.line(pdf.l_margin + left_w / 2 - 12, left_bottom + 1, pdf.l_margin + left_w / 2 + 12, left_bottom + 1)
    right_x, right_w = pdf.l_margin + left_w, pdf.epw - left_w
    pdf.nation_and_motto(right_x, right_w, top, 10.5)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 3)
    pdf.font("", 11.5)
    pdf.cell(left_w, 6, nfc(f"Số: {data.tracking_book_number}"), align="C")
    place = f"{data.place_name}, " if data.place_name else ""
    pdf.font("I", 11.5)
    pdf.cell(right_w, 6, nfc(place + vietnamese_date(data.received_at)), align="C", new_x=XPos.LMARGIN)
    pdf.ln(10)


def _documents_table(pdf: _Slip, data: ReceiptData) -> None:
    pdf.font("", 11)
    heading = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
    with pdf.table(
        col_widths=(12, 98, 45, 20),
        text_align=("CENTER", "LEFT", "CENTER", "CENTER"),
        headings_style=heading,
        line_height=5.5,
        padding=1.2,
    ) as table:
        table.row(["TT", "Tên giấy tờ", "Hình thức", "Số lượng"])
        for n, doc in enumerate(data.documents, start=1):
            table.row([str(n), nfc(doc.name), doc.form.label, str(doc.copies)])
    pdf.ln(2)


def _tracking_block(pdf: _Slip, data: ReceiptData) -> None:
    qr, module, border = tracking_qr(data), 0.8, 4
    side = module * (qr.symbol_size(border=0)[0] + 2 * border)
    code_h = 5.0
    if pdf.get_y() + side + code_h > pdf.page_break_trigger:
        pdf.add_page()
    x0, y0 = pdf.l_margin, pdf.get_y()
    draw_qr(pdf, qr, x0 + border * module, y0 + border * module, module)
    pdf.set_xy(x0, y0 + side)
    pdf.font("B", 9)
    pdf.cell(side, code_h, data.dossier_code, align="C")
    text_x = x0 + side + 4
    pdf.set_xy(text_x, y0 + border * module)
    pdf.font("I", 11)
    note = "Quét mã QR hoặc truy cập địa chỉ dưới đây để tra cứu tình trạng giải quyết hồ sơ:"
    pdf.multi_cell(pdf.w - pdf.r_margin - text_x, 5.5, note, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font("", 10)
    pdf.multi_cell(pdf.w - pdf.r_margin - text_x, 5.5, data.tracking_url, align="L", link=data.tracking_url)
    pdf.set_xy(pdf.l_margin, y0 + side + code_h + 2)


def draw_qr(pdf: FPDF, qr: segno.QRCode, x: float, y: float, module: float) -> None:
    """Each row's runs of dark modules as filled rectangles: vector, sharp at any print resolution."""
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(qr.matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")


def _signatures(pdf: _Slip, data: ReceiptData) -> None:
    if pdf.get_y() + 36 > pdf.page_break_trigger:
        pdf.add_page()
    half, top = pdf.epw / 2, pdf.get_y()
    submitter = data.proxy.full_name if data.proxy else data.applicant.full_name
    for i, (title, name) in enumerate(
        (("NGƯỜI NỘP HỒ SƠ", submitter), ("NGƯỜI TIẾP NHẬN HỒ SƠ", data.officer_name or ""))
    ):
        pdf.set_xy(pdf.l_margin + i * half, top)
        pdf.font("B", 12)
        pdf.cell(half, 6, title, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.font("I", 11)
        pdf.cell(half, 5, "(Ký và ghi rõ họ tên)", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_xy(pdf.l_margin + i * half, pdf.get_y() + 17)
        pdf.font("B", 12)
        pdf.cell(half, 6, nfc(name), align="C")


def render_receipt_pdf(data: ReceiptData) -> bytes:
    pdf = _Slip()
    pdf.add_page()
    _header(pdf, data)
    pdf.line_text("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "B", 14, "C")
    pdf.line_text(f"Mã hồ sơ: {data.dossier_code}", "B", 12, "C")
    pdf.ln(2)
    a = data.applicant
    pdf.field("Cơ quan tiếp nhận: ", f"{data.unit_name} ({data.unit_code})")
    pdf.field("Tiếp nhận hồ sơ của: ", a.full_name)
    for label, value in (
        ("Số định danh cá nhân: ", a.id_number),
        ("Địa chỉ: ", a.address),
        ("Số điện thoại: ", a.phone),
    ):
        if value:
            pdf.field(label, value)
    if a.email:
        pdf.field("Email: ", a.email)
    if data.proxy is not None:
        p = data.proxy
        relationship = f" ({p.relationship})" if p.relationship else ""
        pdf.field("Người được ủy quyền nộp hồ sơ: ", p.full_name + relationship)
        if p.id_number:
            pdf.field("Số định danh cá nhân của người được ủy quyền: ", p.id_number)
    pdf.field("Nội dung yêu cầu giải quyết: ", f"{data.procedure_name} (mã thủ tục {data.procedure_code})")
    pdf.field("1. Thành phần hồ sơ nộp gồm:", "")
    _documents_table(pdf, data)
    pdf.field("2. Số lượng hồ sơ: ", f"{data.dossier_sets:02d} (bộ)")
    pdf.field("3. Thời gian giải quyết hồ sơ theo quy định là: ", processing_time_text(data))
    pdf.field("4. Thời gian nhận hồ sơ: ", vietnamese_datetime(data.received_at))
    pdf.field("5. Thời gian trả kết quả giải quyết hồ sơ: ", vietnamese_datetime(data.appointment_at))
    pdf.field("6. Đăng ký nhận kết quả: ", data.return_method.label)
    pdf.field("Vào Sổ theo dõi hồ sơ, số: ", data.tracking_book_number)
    pdf.ln(1)
    _tracking_block(pdf, data)
    _signatures(pdf, data)
    return bytes(pdf.output())
