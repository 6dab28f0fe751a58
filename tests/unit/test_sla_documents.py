"""sla's documents: report periods, the report as CSV and XLSX, the control and apology slips as PDFs."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader

from services.sla.documents import (
    LEVEL_NAMES_VI,
    RESPONSIBLE_LEVELS,
    ApologySlip,
    ControlSlip,
    ControlSlipRow,
    Report,
    UnitFigures,
)
from services.sla.periods import Window, period_of, report_window
from services.sla.report_export import COLUMNS, report_csv, report_xlsx
from services.sla.slip_pdf import apology_slip_pdf, control_slip_pdf
from shared.pdf import vietnamese_date

VN = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOWS: tuple[Window, ...] = ("calendar", "15th")


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VN)


# --- periods ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "window", "start", "end"),
    [
        ("2023Q1", "calendar", vn(2023, 1, 1), vn(2023, 4, 1)),
        ("2023Q2", "calendar", vn(2023, 4, 1), vn(2023, 7, 1)),
        ("2023Q4", "calendar", vn(2023, 10, 1), vn(2024, 1, 1)),
        ("2023Q1", "15th", vn(2022, 12, 15), vn(2023, 3, 15)),
        ("2023Q2", "15th", vn(2023, 3, 15), vn(2023, 6, 15)),
        ("2023Q4", "15th", vn(2023, 9, 15), vn(2023, 12, 15)),
        ("2024Q1", "15th", vn(2023, 12, 15), vn(2024, 3, 15)),
    ],
)
def test_report_window(period: str, window: Window, start: datetime, end: datetime) -> None:
    got = report_window(period, window)
    assert got == (start, end)
    assert all(moment.tzinfo == VN for moment in got)
    assert all(moment.hour == moment.minute == 0 for moment in got)


def test_window_instants_are_vietnam_midnight() -> None:
    start, end = report_window("2023Q1", "15th")
    assert start.astimezone(UTC) == datetime(2022, 12, 14, 17, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2023, 3, 14, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("spelling", ["2023Q1", "2023-Q1", "2023q1", "2023-q1"])
def test_period_spellings(spelling: str) -> None:
    assert report_window(spelling, "calendar") == (vn(2023, 1, 1), vn(2023, 4, 1))


@pytest.mark.parametrize(
    "bad", ["", "2023", "2023Q0", "2023Q5", "23Q1", "2023 Q1", "Q1-2023", "2023--Q1", "2023Q1x", "2023-1", "0000Q1"]
)
def test_bad_period(bad: str) -> None:
    with pytest.raises(ValueError, match="period"):
        report_window(bad, "calendar")


def test_bad_window() -> None:
    with pytest.raises(ValueError, match="window"):
        report_window("2023Q1", "monthly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        period_of(vn(2023, 1, 1), "monthly")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("at", "window", "period"),
    [
        (vn(2022, 12, 31, 23, 59), "calendar", "2022Q4"),
        (vn(2023, 1, 1), "calendar", "2023Q1"),
        (datetime(2022, 12, 31, 17, 0, tzinfo=UTC), "calendar", "2023Q1"),
        (datetime(2022, 12, 31, 16, 59, tzinfo=UTC), "calendar", "2022Q4"),
        (vn(2022, 12, 14, 23, 59, 59), "15th", "2022Q4"),
        (vn(2022, 12, 15), "15th", "2023Q1"),
        (datetime(2022, 12, 14, 17, 0, tzinfo=UTC), "15th", "2023Q1"),
        (vn(2023, 3, 14, 12), "15th", "2023Q1"),
        (vn(2023, 3, 15), "15th", "2023Q2"),
        (vn(2023, 1, 20), "15th", "2023Q1"),
    ],
)
def test_period_of(at: datetime, window: Window, period: str) -> None:
    assert period_of(at, window) == period


def test_period_of_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_of(datetime(2023, 1, 1), "calendar")


instants = st.datetimes(
    min_value=datetime(1976, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, VN, ZoneInfo("America/New_York")]),
)


@given(at=instants, window=st.sampled_from(WINDOWS))
def test_period_of_falls_in_its_window(at: datetime, window: Window) -> None:
    start, end = report_window(period_of(at, window), window)
    assert start <= at < end


@given(year=st.integers(1976, 2200), quarter=st.integers(1, 4), window=st.sampled_from(WINDOWS))
def test_windows_round_trip_and_tile(year: int, quarter: int, window: Window) -> None:
    period = f"{year}Q{quarter}"
    start, end = report_window(period, window)
    assert period_of(start, window) == period
    assert period_of(end - timedelta(microseconds=1), window) == period
    following = f"{year + quarter // 4}Q{quarter % 4 + 1}"
    assert report_window(following, window)[0] == end


# --- report ----------------------------------------------------------------------------------------


def sample_report() -> Report:
    start, end = report_window("2023Q1", "15th")
    xuan_huong = UnitFigures(
        unit_code="H56.14",
        unit_name="Ủy ban nhân dân phường Xuân Hương - Đà Lạt",
        carried_over=4,
        received_in_person=10,
        received_online=25,
        received_postal=2,
        resolved_early=12,
        resolved_on_time=15,
        resolved_late=3,
        returned=27,
        withdrawn=1,
        stopped=1,
        in_progress_on_time=7,
        in_progress_overdue=2,
        paused=1,
        late_by_level={"land_office": 3, "interconnection": 2},
        late_by_unit={"H56.20": 3, "interconnection": 2},
        apologies_issued=4,
    )
    lac_duong = UnitFigures(
        unit_code="H56.31",
        unit_name="Ủy ban nhân dân huyện Lạc Dương",
        received_online=5,
        resolved_on_time=5,
        returned=5,
    )
    total = UnitFigures(
        unit_code="",
        carried_over=4,
        received_in_person=10,
        received_online=30,
        received_postal=2,
        resolved_early=12,
        resolved_on_time=20,
        resolved_late=3,
        returned=32,
        withdrawn=1,
        stopped=1,
        in_progress_on_time=7,
        in_progress_overdue=2,
        paused=1,
        late_by_level={"land_office": 3, "interconnection": 2},
        apologies_issued=4,
    )
    return Report(
        from_at=start,
        to_at=end,
        as_of=end - timedelta(hours=1),
        period="2023Q1",
        window="15th",
        outcome_by="date",
        units=[xuan_huong, lac_duong],
        total=total,
    )


EXPECTED_KEYS = [
    *["unit_code", "unit_name", "carried_over"],
    *["received_in_person", "received_online", "received_postal", "received_total"],
    *["resolved_early", "resolved_on_time", "resolved_late", "resolved_total", "returned", "withdrawn", "stopped"],
    *["in_progress_on_time", "in_progress_overdue", "paused"],
    *(f"late_by_{level}" for level in RESPONSIBLE_LEVELS),
    "apologies_issued",
]


def test_columns_are_one_definition() -> None:
    assert [c.key for c in COLUMNS] == EXPECTED_KEYS
    assert "late_by_land_office" in EXPECTED_KEYS
    assert len({c.key for c in COLUMNS}) == len(COLUMNS)


def test_report_csv() -> None:
    text = report_csv(sample_report())
    assert text.startswith("\ufeff")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert text.count("\r\n") == 4
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert rows[0] == EXPECTED_KEYS
    assert len(rows) == 4
    unit = dict(zip(rows[0], rows[1], strict=True))
    assert unit["unit_code"] == "H56.14"
    assert unit["unit_name"] == "Ủy ban nhân dân phường Xuân Hương - Đà Lạt"
    assert unit["carried_over"] == "4"
    assert unit["received_total"] == "37"
    assert unit["resolved_total"] == "30"
    assert unit["returned"] == "27"
    assert unit["late_by_land_office"] == "3"
    assert unit["late_by_interconnection"] == "2"
    assert unit["late_by_commune"] == "0"
    assert unit["apologies_issued"] == "4"
    total = dict(zip(rows[0], rows[-1], strict=True))
    assert (total["unit_code"], total["unit_name"]) == ("TOTAL", "Tổng cộng")
    assert total["received_total"] == "42"
    assert total["resolved_total"] == "35"
    assert total["returned"] == "32"


def test_report_csv_is_nfc() -> None:
    report = sample_report()
    report.units[1].unit_name = unicodedata.normalize("NFD", "Ủy ban nhân dân huyện Lạc Dương")
    text = report_csv(report)
    assert unicodedata.is_normalized("NFC", text)
    assert "Ủy ban nhân dân huyện Lạc Dương" in text


def load_sheet(data: bytes) -> Worksheet:
    sheet = load_workbook(io.BytesIO(data)).active
    assert isinstance(sheet, Worksheet)
    return sheet


def test_report_xlsx() -> None:
    sheet = load_sheet(report_xlsx(sample_report()))
    title = sheet["A1"].value
    assert isinstance(title, str)
    assert title.startswith("Báo cáo tình hình giải quyết hồ sơ")
    assert "quý I năm 2023" in title
    assert "từ ngày 15/12/2022 đến ngày 14/03/2023" in title
    assert "số liệu tại 23:00 ngày 14/03/2023" in title

    labels = [cell.value for cell in sheet[2]]
    for label in (
        "Kỳ trước chuyển sang",
        "Tiếp nhận trực tiếp",
        "Trực tuyến",
        "Bưu chính công ích",
        "Trước hạn",
        "Đúng hạn",
        "Quá hạn",
        "Đã trả kết quả",
        "Rút hồ sơ",
        "Dừng xử lý",
        "Đang xử lý trong hạn",
        "Đang xử lý quá hạn",
        "Tạm dừng (chờ công dân)",
        "Số phiếu xin lỗi",
    ):
        assert label in labels
        assert labels.index(label) == [c.label for c in COLUMNS].index(label)
    for level in RESPONSIBLE_LEVELS:
        assert any(isinstance(v, str) and v.endswith(LEVEL_NAMES_VI[level]) for v in labels)
    assert all(isinstance(v, str) and unicodedata.is_normalized("NFC", v) for v in labels)
    assert [cell.value for cell in sheet[3]] == EXPECTED_KEYS

    keys = EXPECTED_KEYS
    unit = {k: cell.value for k, cell in zip(keys, sheet[4], strict=True)}
    assert unit["unit_name"] == "Ủy ban nhân dân phường Xuân Hương - Đà Lạt"
    assert unit["received_total"] == 37
    assert type(unit["late_by_land_office"]) is int
    assert unit["late_by_land_office"] == 3
    assert unit["late_by_police"] == 0
    assert sheet.max_row == 6
    total = {k: cell.value for k, cell in zip(keys, sheet[6], strict=True)}
    assert total["unit_name"] == "Tổng cộng"
    assert total["resolved_total"] == 35
    assert sheet["A6"].font.b
    assert sheet.freeze_panes == "C4"
    assert (sheet.column_dimensions["B"].width or 0) > 30


# --- slips -----------------------------------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", text)


def step(
    seq: int, name: str, giver: str, taker: str, level: str, at: datetime, finished: datetime | None, result: str | None
) -> ControlSlipRow:
    return ControlSlipRow(
        seq=seq,
        attempt=1,
        step_name=name,
        handing_over_unit_code=None,
        handing_over_unit_name=giver,
        receiving_unit_code=taker[:6],
        receiving_unit_name=taker,
        receiving_unit_level=level,
        handed_over_at=at,
        accepted_at=at + timedelta(minutes=30),
        deadline_at=at + timedelta(days=2),
        finished_at=finished,
        result=result,
        counts=True,
        paused_minutes=0,
        interconnection_minutes=0,
        overrun_minutes=0,
        interconnection_overrun_minutes=0,
    )


DESK, LAND, TAX = "Bộ phận Một cửa", "Văn phòng đất đai", "Chi cục Thuế"
CODE = "H56.14-230301-0012"


def sample_control_slip() -> ControlSlip:
    rows = [
        step(1, "Tiếp nhận", DESK, DESK, "commune", vn(2023, 3, 1, 8, 30), vn(2023, 3, 1, 10), "early"),
        replace(
            step(2, "Thẩm định", DESK, LAND, "land_office", vn(2023, 3, 1, 10), vn(2023, 3, 6, 11), "late"),
            interconnection_minutes=150,
            note="Thiếu bản vẽ",
        ),
        step(3, "Xác định thuế", LAND, TAX, "tax", vn(2023, 3, 6, 11), vn(2023, 3, 7, 9), "on_time"),
        step(4, "Ký duyệt", TAX, "Lãnh đạo phường", "commune", vn(2023, 3, 7, 9), None, None),
        replace(step(5, "Nộp thuế", TAX, "Công dân", "citizen", vn(2023, 3, 7, 9), None, None), counts=False),
    ]
    return ControlSlip(
        dossier_code=CODE,
        procedure_code="1.003560",
        procedure_name="Đăng ký biến động quyền sử dụng đất",
        receiving_unit_code="H56.14",
        receiving_unit_name="Ủy ban nhân dân phường Xuân Hương - Đà Lạt",
        applicant_name="Nguyễn Thị Hồng Nhung",
        accepted_at=vn(2023, 3, 1, 8, 30),
        appointment_at=vn(2023, 3, 15, 16),
        finished_at=None,
        outcome=None,
        rows=rows,
    )


def test_control_slip_pdf() -> None:
    slip = sample_control_slip()
    pdf = control_slip_pdf(slip)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for expected in (
        "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        f"Mã hồ sơ: {CODE}",
        "Nguyễn Thị Hồng Nhung",
        "Đăng ký biến động quyền sử dụng đất",
        "Tên cơ quan, đơn vị",
        "08 giờ 30 phút, ngày 01 tháng 3 năm 2023",
        "16 giờ 00 phút, ngày 15 tháng 3 năm 2023",
    ):
        assert expected in text
    starts = [text.index(f"{row.seq}. {row.step_name}") for row in slip.rows]
    assert starts == sorted(starts)
    segments = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    results = ("Trước hạn", "Quá hạn", "Đúng hạn", "Đang xử lý", "Không tính thời gian")
    for row, segment, result in zip(slip.rows, segments, results, strict=True):
        assert row.handing_over_unit_name in segment
        assert row.receiving_unit_name in segment
        assert result in segment
        assert [r for r in results if r in segment and r not in result] == []
    assert "10:00 01/03/2023" in text
    assert "Thiếu bản vẽ; Lỗi liên thông: 2 giờ 30 phút làm việc" in text


def sample_apology_slip(new_appointment: datetime | None) -> ApologySlip:
    return ApologySlip(
        dossier_code=CODE,
        procedure_code="1.003560",
        procedure_name="Đăng ký biến động quyền sử dụng đất",
        receiving_unit_code="H56.14",
        receiving_unit_name="Ủy ban nhân dân phường Xuân Hương - Đà Lạt",
        applicant_name="Trần Văn Đức",
        issued_at=vn(2023, 3, 14, 9),
        original_appointment_at=vn(2023, 3, 15, 16),
        proposed_appointment_at=vn(2023, 3, 22, 16),
        reason="Lỗi liên thông khi chuyển hồ sơ đến cơ quan thuế",
        responsible_unit_code="H56.20",
        responsible_unit_name="Văn phòng đăng ký đất đai Đà Lạt",
        responsible_level="land_office",
        reset=new_appointment is not None,
        new_appointment_at=new_appointment,
    )


def test_apology_slip_pdf() -> None:
    pdf = apology_slip_pdf(sample_apology_slip(vn(2023, 3, 24, 10)))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for expected in (
        "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
        "(Đề nghị gia hạn thời gian giải quyết)",
        "Kính gửi: Trần Văn Đức",
        CODE,
        "Đăng ký biến động quyền sử dụng đất",
        "Lý do: Lỗi liên thông khi chuyển hồ sơ đến cơ quan thuế",
        "Văn phòng đăng ký đất đai Đà Lạt",
        "16 giờ 00 phút, ngày 15 tháng 3 năm 2023",
        "xin lỗi Ông/Bà và hẹn lại ngày trả kết quả vào 10 giờ 00 phút, ngày 24 tháng 3 năm 2023",
        vietnamese_date(vn(2023, 3, 14)).capitalize(),
    ):
        assert expected in text
    assert "ngày 22 tháng 3 năm 2023" not in text


def test_apology_slip_without_new_appointment_names_the_proposed_one() -> None:
    text = pdf_text(apology_slip_pdf(sample_apology_slip(None)))
    assert "hẹn lại ngày trả kết quả vào 16 giờ 00 phút, ngày 22 tháng 3 năm 2023" in text
