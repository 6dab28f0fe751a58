"""The quarterly report as CSV and XLSX: one row per unit, then the total row.

Both formats share :data:`COLUMNS`, so a column is added, renamed or reordered in one place.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from services.sla.documents import LEVEL_NAMES_VI, RESPONSIBLE_LEVELS, Report, UnitFigures
from services.sla.periods import parse_period
from shared.calendar import VIETNAM_TZ as VN_TZ

Cell = int | str

TOTAL_CODE = "TOTAL"
TOTAL_NAME = "Tổng cộng"


@dataclass(frozen=True)
class Column:
    key: str
    """Stable snake_case English name: the CSV header, the XLSX second header line, a JSON field."""
    label: str
    """Vietnamese heading of the XLSX sheet."""
    get: Callable[[UnitFigures], Cell]
    width: float = 12


def _late_by(level: str) -> Callable[[UnitFigures], Cell]:
    return lambda f: f.late_by_level.get(level, 0)


COLUMNS: list[Column] = [
    Column("unit_code", "Mã đơn vị", lambda f: f.unit_code, 14),
    Column("unit_name", "Tên đơn vị", lambda f: f.unit_name, 42),
    Column("carried_over", "Kỳ trước chuyển sang", lambda f: f.carried_over),
    Column("received_in_person", "Tiếp nhận trực tiếp", lambda f: f.received_in_person),
    Column("received_online", "Trực tuyến", lambda f: f.received_online),
    Column("received_postal", "Bưu chính công ích", lambda f: f.received_postal),
    Column("received_total", "Tổng số tiếp nhận trong kỳ", lambda f: f.received),
    Column("resolved_early", "Trước hạn", lambda f: f.resolved_early),
    Column("resolved_on_time", "Đúng hạn", lambda f: f.resolved_on_time),
    Column("resolved_late", "Quá hạn", lambda f: f.resolved_late),
    Column("resolved_total", "Tổng số đã giải quyết", lambda f: f.resolved),
    Column("returned", "Đã trả kết quả", lambda f: f.returned),
    Column("withdrawn", "Rút hồ sơ", lambda f: f.withdrawn),
    Column("stopped", "Dừng xử lý", lambda f: f.stopped),
    Column("in_progress_on_time", "Đang xử lý trong hạn", lambda f: f.in_progress_on_time),
    Column("in_progress_overdue", "Đang xử lý quá hạn", lambda f: f.in_progress_overdue),
    Column("paused", "Tạm dừng (chờ công dân)", lambda f: f.paused),
    *(
        Column(f"late_by_{level}", f"Quá hạn do: {LEVEL_NAMES_VI[level]}", _late_by(level))
        for level in RESPONSIBLE_LEVELS
    ),
    Column("apologies_issued", "Số phiếu xin lỗi", lambda f: f.apologies_issued),
]


def _nfc(value: Cell) -> Cell:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def report_rows(report: Report) -> list[list[Cell]]:
    """The cells of every unit's row in :data:`COLUMNS` order, the total row last."""
    rows = [[_nfc(c.get(unit)) for c in COLUMNS] for unit in report.units]
    total = [_nfc(c.get(report.total)) for c in COLUMNS]
    total[0] = report.total.unit_code or TOTAL_CODE
    total[1] = _nfc(report.total.unit_name or TOTAL_NAME)
    return [*rows, total]


def report_csv(report: Report) -> str:
    """UTF-8 CSV text starting with a BOM (Excel then reads the Vietnamese names right), CRLF line ends."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([c.key for c in COLUMNS])
    writer.writerows(report_rows(report))
    return out.getvalue()


def _date(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y")


def _quarter_text(period: str) -> str:
    try:
        year, quarter = parse_period(period)
    except ValueError:
        return period
    return f"quý {('I', 'II', 'III', 'IV')[quarter - 1]} năm {year}"


def report_title(report: Report) -> str:
    """ "Báo cáo … quý I năm 2023 từ ngày 01/01/2023 đến ngày 31/03/2023 (số liệu tại 08:00 ngày 01/04/2023)"."""
    last_day = report.to_at - timedelta(microseconds=1)
    as_of = report.as_of.astimezone(VN_TZ)
    period = f" {_quarter_text(report.period)}" if report.period else ""
    return (
        f"Báo cáo tình hình giải quyết hồ sơ{period} từ ngày {_date(report.from_at)} đến ngày {_date(last_day)}"
        f" (số liệu tại {as_of:%H:%M} ngày {_date(as_of)})"
    )


def report_xlsx(report: Report) -> bytes:
    """One sheet: the title, Vietnamese headings over the English keys, the units, the total in bold."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Bao cao"
    n = len(COLUMNS)
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(horizontal="center", vertical="center", wrap_text=True)

    ws.cell(row=1, column=1, value=_nfc(report_title(report))).font = Font(bold=True, size=13)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    ws.row_dimensions[1].height = 22
    for i, column in enumerate(COLUMNS, start=1):
        label = ws.cell(row=2, column=i, value=_nfc(column.label))
        label.font, label.alignment, label.border = Font(bold=True), wrap, box
        label.fill = PatternFill("solid", fgColor="E8E8E8")
        key = ws.cell(row=3, column=i, value=column.key)
        key.font, key.alignment, key.border = Font(italic=True, size=8, color="666666"), wrap, box
        ws.column_dimensions[get_column_letter(i)].width = column.width
    ws.row_dimensions[2].height = 48

    rows = report_rows(report)
    for r, row in enumerate(rows, start=4):
        bold = r == 3 + len(rows)
        for i, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=i, value=value)
            cell.border = box
            if bold:
                cell.font = Font(bold=True)
    ws.freeze_panes = "C4"

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
