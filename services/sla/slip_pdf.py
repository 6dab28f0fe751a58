"""The process control slip and the apology slip as A4 PDFs, in Vietnamese with the Be Vietnam Pro font.

Pure rendering of :mod:`services.sla.documents` on :class:`shared.pdf.VietnamesePdf`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fpdf import FontFace
from fpdf.enums import XPos, YPos

from services.sla.documents import LEVEL_NAMES_VI, ApologySlip, ControlSlip, ControlSlipRow
from shared.calendar import VIETNAM_TZ as VN_TZ
from shared.pdf import VietnamesePdf, nfc, vietnamese_date, vietnamese_datetime

CONTROL_TITLE = "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ"
APOLOGY_TITLE = "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"
APOLOGY_SUBTITLE = "(Đề nghị gia hạn thời gian giải quyết)"

RESULT_TEXT = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}
OPEN_TEXT = "Đang xử lý"
NOT_COUNTED_TEXT = "Không tính thời gian"
DONE_TEXT = "Đã xử lý"


def compact_time(moment: datetime | None) -> str:
    """ "08:30 05/02/2026" in Vietnam's time; empty for no time."""
    return "" if moment is None else moment.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y")


def working_time(minutes: int) -> str:
    """ "1 giờ 30 phút làm việc"."""
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours} giờ"] if hours else []) + ([f"{rest} phút"] if rest or not hours else [])
    return " ".join(parts) + " làm việc"


def row_result(row: ControlSlipRow) -> str:
    if not row.counts:
        return NOT_COUNTED_TEXT
    if row.finished_at is None:
        return OPEN_TEXT
    return RESULT_TEXT.get(row.result or "", DONE_TEXT)


def row_note(row: ControlSlipRow) -> str:
    notes = [row.note] if row.note else []
    if row.paused_minutes > 0:
        notes.append(f"Tạm dừng chờ công dân: {working_time(row.paused_minutes)}")
    if row.interconnection_minutes > 0:
        notes.append(f"Lỗi liên thông: {working_time(row.interconnection_minutes)}")
    if row.overrun_minutes > 0:
        notes.append(f"Quá hạn tại đơn vị nhận: {working_time(row.overrun_minutes)}")
    if row.interconnection_overrun_minutes > 0:
        notes.append(f"Quá hạn do lỗi liên thông: {working_time(row.interconnection_overrun_minutes)}")
    return "; ".join(notes)


class _Doc(VietnamesePdf):
    def __init__(self, title: str, orientation: Literal["P", "L"] = "P") -> None:
        margin = (20, 15) if orientation == "P" else (12, 12)
        super().__init__(title, orientation, *margin)

    def paragraph(self, text: str, style: str = "", size: float = 12, align: str = "J") -> None:
        self.font(style, size)
        self.multi_cell(0, self.LINE, nfc(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def header_block(self, unit_name: str, dated: datetime | None = None) -> None:
        """The unit's name on the left, the national name and motto on the right, then the date line."""
        left_w, top = min(95.0, self.epw * 0.48), self.get_y()
        self.font("B", 11)
        self.multi_cell(left_w, 5, nfc(unit_name.upper()), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        left_bottom = self.get_y()
        self.line(self.l_margin + left_w / 2 - 12, left_bottom + 1, self.l_margin + left_w / 2 + 12, left_bottom + 1)
        right_x, right_w = self.l_margin + left_w, self.epw - left_w
        self.nation_and_motto(right_x, right_w, top, 11)
        self.set_y(max(left_bottom, self.get_y()) + 3)
        if dated is not None:
            self.set_x(right_x)
            self.font("I", 12)
            self.cell(right_w, 6, nfc(vietnamese_date(dated).capitalize()), align="C", new_x=XPos.LMARGIN)
        self.ln(10)


_CONTROL_WIDTHS = (38, 36, 36, 23, 23, 23, 23, 24, 47)


def _control_table(pdf: _Doc, rows: list[ControlSlipRow]) -> None:
    pdf.font("", 9)
    with pdf.table(
        col_widths=_CONTROL_WIDTHS,
        width=sum(_CONTROL_WIDTHS),
        text_align=("LEFT", "LEFT", "LEFT", "CENTER", "CENTER", "CENTER", "CENTER", "CENTER", "LEFT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        num_heading_rows=2,
        line_height=4.6,
        padding=1.2,
    ) as table:
        top = table.row()
        top.cell("Bước", rowspan=2, align="CENTER")
        top.cell("Tên cơ quan, đơn vị", colspan=2, align="CENTER")
        top.cell("Thời gian giao, nhận hồ sơ", colspan=2, align="CENTER")
        for heading in ("Hạn xử lý", "Hoàn thành", "Kết quả", "Ghi chú"):
            top.cell(heading, rowspan=2, align="CENTER")
        sub = table.row()
        for heading in ("Bên giao", "Bên nhận", "Thời gian giao", "Thời gian nhận"):
            sub.cell(heading, align="CENTER")
        for row in rows:
            attempt = f" (lần {row.attempt})" if row.attempt > 1 else ""
            table.row(
                [
                    nfc(f"{row.seq}. {row.step_name}{attempt}"),
                    nfc(row.handing_over_unit_name),
                    nfc(row.receiving_unit_name),
                    compact_time(row.handed_over_at),
                    compact_time(row.accepted_at),
                    compact_time(row.deadline_at),
                    compact_time(row.finished_at),
                    row_result(row),
                    nfc(row_note(row)),
                ]
            )


def control_slip_pdf(slip: ControlSlip) -> bytes:
    """Phiếu kiểm soát quá trình giải quyết hồ sơ: every handover against its own deadline (A4 landscape)."""
    pdf = _Doc("Phiếu kiểm soát quá trình giải quyết hồ sơ", orientation="L")
    pdf.add_page()
    pdf.header_block(slip.receiving_unit_name)
    pdf.paragraph(CONTROL_TITLE, "B", 14, "C")
    pdf.paragraph(f"Mã hồ sơ: {slip.dossier_code}", "B", 12, "C")
    pdf.ln(3)
    pdf.field("Cơ quan tiếp nhận: ", f"{slip.receiving_unit_name} ({slip.receiving_unit_code})")
    pdf.field("Thủ tục hành chính: ", f"{slip.procedure_name} (mã thủ tục {slip.procedure_code})")
    pdf.field("Tên tổ chức, cá nhân nộp hồ sơ: ", slip.applicant_name)
    pdf.field("Thời gian tiếp nhận: ", vietnamese_datetime(slip.accepted_at))
    appointment = vietnamese_datetime(slip.appointment_at) if slip.appointment_at else "chưa có"
    pdf.field("Thời gian hẹn trả kết quả: ", appointment)
    if slip.finished_at is not None:
        outcome = RESULT_TEXT.get(slip.outcome or "")
        pdf.field(
            "Thời gian hoàn thành: ", vietnamese_datetime(slip.finished_at) + (f" ({outcome})" if outcome else "")
        )
    pdf.ln(3)
    _control_table(pdf, slip.rows)
    return bytes(pdf.output())


def _responsible(slip: ApologySlip) -> str:
    name = slip.responsible_unit_name or LEVEL_NAMES_VI.get(slip.responsible_level, "")
    return "" if not name or nfc(name) in nfc(slip.reason) else f" (đơn vị chịu trách nhiệm: {name})"


def apology_slip_pdf(slip: ApologySlip) -> bytes:
    """Phiếu xin lỗi và hẹn lại ngày trả kết quả, naming the new appointment (or the proposed one)."""
    pdf = _Doc("Phiếu xin lỗi và hẹn lại ngày trả kết quả")
    pdf.add_page()
    pdf.header_block(slip.receiving_unit_name, dated=slip.issued_at)
    pdf.paragraph(APOLOGY_TITLE, "B", 14, "C")
    pdf.paragraph(APOLOGY_SUBTITLE, "I", 12, "C")
    pdf.ln(4)
    pdf.paragraph(f"Kính gửi: {slip.applicant_name}", "B", 13, "C")
    pdf.ln(3)
    unit = slip.receiving_unit_name
    appointment = slip.new_appointment_at or slip.proposed_appointment_at
    reason = slip.reason.rstrip(". ")
    for text in (
        f"{unit} đã tiếp nhận hồ sơ của Ông/Bà, mã hồ sơ {slip.dossier_code}, đề nghị giải quyết thủ tục "
        f"{slip.procedure_name} (mã thủ tục {slip.procedure_code}). Thời gian hẹn trả kết quả giải quyết hồ sơ "
        f"ghi trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả là {vietnamese_datetime(slip.original_appointment_at)}.",
        f"Tuy nhiên, hồ sơ của Ông/Bà không thể giải quyết đúng hạn. Lý do: {reason}{_responsible(slip)}.",
        f"Sự chậm trễ này đã gây phiền hà cho Ông/Bà. {unit} xin lỗi Ông/Bà và hẹn lại ngày trả kết quả vào "
        f"{vietnamese_datetime(appointment)}.",
        "Mong nhận được sự thông cảm của Ông/Bà.",
    ):
        pdf.paragraph(text)
        pdf.ln(2)
    _apology_signature(pdf)
    return bytes(pdf.output())


def _apology_signature(pdf: _Doc) -> None:
    if pdf.get_y() + 40 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(6)
    half, top = pdf.epw / 2, pdf.get_y()
    pdf.font("BI", 11)
    pdf.cell(half, 5, "Nơi nhận:", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font("", 10)
    for line in ("- Như trên;", "- Lưu: VT."):
        pdf.cell(half, 5, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin + half, top)
    pdf.font("B", 12)
    pdf.cell(half, 6, "ĐẠI DIỆN CƠ QUAN, ĐƠN VỊ", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.font("I", 11)
    pdf.cell(half, 5, "(Ký, ghi rõ họ tên và đóng dấu)", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
