"""The receipt and appointment slip: a real PDF whose text (diacritics included) and QR are checked."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import segno
from pypdf import PdfReader

from services.intake.receipt import (
    Applicant,
    DocumentForm,
    DocumentItem,
    Proxy,
    ReceiptData,
    ReturnMethod,
    TimeUnit,
    receipt_from_json,
    receipt_json,
    render_receipt_pdf,
    tracking_qr,
)
from shared.pdf import vietnamese_date, vietnamese_datetime

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def sample_receipt() -> ReceiptData:
    return ReceiptData(
        dossier_code="H56.14-261110-0012",
        unit_code="H56.14",
        unit_name="Bộ phận Một cửa Ủy ban nhân dân phường Xuân Hương - Đà Lạt",
        parent_name="Ủy ban nhân dân tỉnh Lâm Đồng",
        place_name="Lâm Đồng",
        applicant=Applicant(
            full_name="Nguyễn Thị Hồng Nhung",
            id_number="068190001234",
            address="Số 12 đường Trần Hưng Đạo, phường Xuân Hương - Đà Lạt, tỉnh Lâm Đồng",
            phone="0912345678",
            email="hongnhung@example.vn",
        ),
        proxy=Proxy(full_name="Trần Văn Đức", id_number="068088004321", relationship="chồng"),
        procedure_code="1.003560.000.00.00.H56",
        procedure_name="Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        documents=(
            DocumentItem(
                "Đơn đăng ký biến động đất đai, tài sản gắn liền với đất (Mẫu số 11/ĐK)", 1, DocumentForm.ORIGINAL
            ),
            DocumentItem("Giấy chứng nhận quyền sử dụng đất đã cấp", 1, DocumentForm.ORIGINAL),
            DocumentItem("Hợp đồng chuyển nhượng quyền sử dụng đất", 2, DocumentForm.CERTIFIED_COPY),
        ),
        processing_time=10,
        processing_time_unit=TimeUnit.WORKING_DAYS,
        received_at=datetime(2026, 11, 10, 9, 15, tzinfo=VN),
        appointment_at=datetime(2026, 11, 24, 9, 15, tzinfo=VN),
        return_method=ReturnMethod.POST,
        tracking_book_number="0012/TNHS",
        officer_name="Lê Thị Mỹ Duyên",
        tracking_url="https://dichvucong.lamdong.example/tra-cuu/H56.14-261110-0012",
    )


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_receipt_pdf(sample_receipt())


def test_is_an_a4_pdf(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)


def test_vietnamese_text_survives_with_its_diacritics(pdf: bytes) -> None:
    text = flat(pdf_text(pdf))
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "ỦY BAN NHÂN DÂN TỈNH LÂM ĐỒNG",
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        "Mã hồ sơ: H56.14-261110-0012",
        "Nguyễn Thị Hồng Nhung",
        "068190001234",
        "Trần Văn Đức",
        "Đăng ký biến động quyền sử dụng đất",
        "10 ngày làm việc",
        "09 giờ 15 phút, ngày 10 tháng 11 năm 2026",
        "09 giờ 15 phút, ngày 24 tháng 11 năm 2026",
        "Qua dịch vụ bưu chính công ích",
        "Bản sao chứng thực",
        "Hợp đồng chuyển nhượng quyền sử dụng đất",
        "NGƯỜI NỘP HỒ SƠ",
        "NGƯỜI TIẾP NHẬN HỒ SƠ",
        "Lê Thị Mỹ Duyên",
        "https://dichvucong.lamdong.example/tra-cuu/H56.14-261110-0012",
    ):
        assert expected in text, expected


def test_the_font_is_embedded(pdf: bytes) -> None:
    assert b"/FontFile2" in pdf
    assert b"BeVietnamPro" in pdf


def test_dates_are_printed_in_vietnam_time_with_leading_zeros_as_on_state_documents() -> None:
    utc = datetime(2026, 2, 4, 18, 5, tzinfo=ZoneInfo("UTC"))  # 01:05 on the 5th in Vietnam
    assert vietnamese_datetime(utc) == "01 giờ 05 phút, ngày 05 tháng 02 năm 2026"
    assert vietnamese_date(datetime(2026, 12, 31, 8, tzinfo=VN)) == "ngày 31 tháng 12 năm 2026"


def _qr_modules_in_pdf(pdf: bytes, module_pt: float) -> set[tuple[int, int]]:
    """Rebuild the set of dark QR modules from the filled rectangles of the page's content stream."""
    content = PdfReader(io.BytesIO(pdf)).pages[0].get_contents()
    assert content is not None
    ops = content.get_data().decode("latin-1")
    rects = [tuple(map(float, m.groups())) for m in re.finditer(r"([\d.]+) ([\d.]+) ([\d.]+) (-?[\d.]+) re f", ops)]
    qr_rects = [r for r in rects if abs(abs(r[3]) - module_pt) < 0.01]
    x0 = min(r[0] for r in qr_rects)
    y_top = max(r[1] for r in qr_rects)
    dark: set[tuple[int, int]] = set()
    for x, y, w, _h in qr_rects:
        row = round((y_top - y) / module_pt)
        first = round((x - x0) / module_pt)
        dark.update((row, col) for col in range(first, first + round(w / module_pt)))
    return dark


def test_the_qr_encodes_the_tracking_url_and_is_drawn_module_for_module(pdf: bytes) -> None:
    data = sample_receipt()
    qr = tracking_qr(data)
    assert qr.is_micro is False
    assert qr.error == "M"
    expected = {(r, c) for r, row in enumerate(qr.matrix) for c, v in enumerate(row) if v}
    drawn = _qr_modules_in_pdf(pdf, module_pt=0.8 * 72 / 25.4)
    # normalise both to start at the first dark row/column (finder patterns fill the corners)
    assert {(r - min(r for r, _ in drawn), c - min(c for _, c in drawn)) for r, c in drawn} == expected
    # the symbol carries the URL as its byte payload: segno encodes the same text to the same matrix
    assert segno.make(data.tracking_url, error="m", micro=False).matrix == qr.matrix
    # the dossier code is printed under the QR, besides the title line and the URL
    assert flat(pdf_text(pdf)).count(data.dossier_code) >= 3


def test_receipt_json_round_trips_every_field() -> None:
    data = sample_receipt()
    doc = json.loads(json.dumps(receipt_json(data), ensure_ascii=False))
    assert receipt_from_json(doc) == data
    assert doc["received_at"] == "2026-11-10T09:15:00+07:00"
    assert doc["appointment_at_text"] == "09 giờ 15 phút, ngày 24 tháng 11 năm 2026"
    assert doc["processing_time_text"] == "10 ngày làm việc"
    assert doc["return_method_text"] == "Qua dịch vụ bưu chính công ích"
    assert doc["documents"][2]["form_text"] == "Bản sao chứng thực"
    no_proxy = replace(
        data, proxy=None, officer_name=None, processing_time=1.5, processing_time_unit=TimeUnit.CALENDAR_DAYS
    )
    doc = receipt_json(no_proxy)
    assert receipt_from_json(doc) == no_proxy
    assert doc["processing_time_text"] == "1,5 ngày"


def test_without_proxy_or_officer_the_slip_still_renders() -> None:
    data = replace(sample_receipt(), proxy=None, officer_name=None, return_method=ReturnMethod.AT_DESK)
    text = flat(pdf_text(render_receipt_pdf(data)))
    assert "Tại Bộ phận Một cửa" in text
    assert "ủy quyền" not in text


def test_many_documents_flow_onto_a_second_page() -> None:
    docs = tuple(DocumentItem(f"Giấy tờ kèm theo số {n}", 1, DocumentForm.COPY) for n in range(1, 41))
    pdf = render_receipt_pdf(replace(sample_receipt(), documents=docs))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    assert "Giấy tờ kèm theo số 40" in flat(pdf_text(pdf))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(sample_receipt(), received_at=datetime(2026, 11, 10, 9, 15))


@pytest.mark.parametrize("id_number", ["12345", "06819000123X", "0681900012345"])
def test_personal_id_numbers_have_12_digits(id_number: str) -> None:
    with pytest.raises(ValueError, match="12 digits"):
        Applicant("Nguyễn Văn An", id_number, "Hà Nội", "0900000000")
    with pytest.raises(ValueError, match="12 digits"):
        Proxy("Nguyễn Văn An", id_number, "con")
