"""The public tracking page: personal data only when verified, everything escaped, statuses in Vietnamese."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from services.intake.tracking_page import (
    STATUS_LABELS,
    TrackingStep,
    TrackingView,
    render_not_found_page,
    render_tracking_page,
    status_label,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def sample_view(**changes: object) -> TrackingView:
    view = TrackingView(
        code="H56.14-261110-0012",
        procedure_name="Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        unit_name="Ủy ban nhân dân phường Xuân Hương - Đà Lạt",
        status_code=4,
        received_at=datetime(2026, 11, 10, 9, 15, tzinfo=VN),
        appointment_at=datetime(2026, 11, 26, 9, 15, tzinfo=VN),
        original_appointment_at=datetime(2026, 11, 24, 9, 15, tzinfo=VN),
        steps=(
            TrackingStep(
                datetime(2026, 11, 10, 9, 15, tzinfo=VN), "Bộ phận Một cửa phường Xuân Hương", "Đã tiếp nhận hồ sơ"
            ),
            TrackingStep(
                datetime(2026, 11, 11, 2, 0, tzinfo=ZoneInfo("UTC")),
                "Chi nhánh Văn phòng đăng ký đất đai Đà Lạt",
                "Đã nhận hồ sơ chuyển đến, đang thẩm định",
            ),
        ),
        verified=False,
        applicant_name="Nguyễn Thị Hồng Nhung",
        phone_masked="091****678",
    )
    return replace(view, **changes)  # type: ignore[arg-type]


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Parsed:
    p = _Parsed()
    p.feed(page)
    p.close()
    return p


PERSONAL = ("Nguyễn Thị Hồng Nhung", "Hồng Nhung", "091****678", "678", "068190001234")


def test_an_unverified_page_carries_no_personal_data_even_when_the_view_does() -> None:
    page = render_tracking_page(sample_view(verified=False))
    for secret in PERSONAL:
        assert secret not in page
    forms = [attrs for tag, attrs in parse(page).tags if tag == "form"]
    assert forms == [{"method": "get"}]
    inputs = [attrs for tag, attrs in parse(page).tags if tag == "input"]
    assert len(inputs) == 1
    assert inputs[0]["name"] == "phone_last4"
    assert inputs[0]["pattern"] == "[0-9]{4}"
    assert "required" in inputs[0]


def test_a_verified_page_shows_the_applicant_and_the_masked_phone_and_no_form() -> None:
    page = render_tracking_page(sample_view(verified=True))
    assert "Nguyễn Thị Hồng Nhung" in page
    assert "091****678" in page
    assert "phone_last4" not in page
    assert all(tag != "form" for tag, _ in parse(page).tags)


def test_a_failed_verification_says_so_without_revealing_anything() -> None:
    page = render_tracking_page(sample_view(verified=False, verification_failed=True))
    assert "không khớp" in page
    for secret in PERSONAL:
        assert secret not in page


def test_the_page_is_vietnamese_utf8_and_mobile_ready() -> None:
    page = render_tracking_page(sample_view())
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="vi">' in page
    assert '<meta charset="utf-8">' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert "<title>Tra cứu hồ sơ H56.14-261110-0012</title>" in page
    assert "<script" not in page.lower()


def test_the_summary_appointment_reset_and_steps_are_shown_in_vietnam_time() -> None:
    page = render_tracking_page(sample_view())
    text = "".join(parse(page).text)
    assert "H56.14-261110-0012" in text
    assert "Đăng ký biến động quyền sử dụng đất" in text
    assert "Ủy ban nhân dân phường Xuân Hương - Đà Lạt" in text
    assert "Đang xử lý" in text
    assert "09 giờ 15 phút, ngày 10 tháng 11 năm 2026" in text
    assert "09 giờ 15 phút, ngày 26 tháng 11 năm 2026" in text
    assert "đã hẹn lại" in text
    assert "Hẹn ban đầu: 09 giờ 15 phút, ngày 24 tháng 11 năm 2026" in text
    assert "09:00, 11/11/2026" in text  # 02:00 UTC
    assert text.index("Đã tiếp nhận hồ sơ") < text.index("đang thẩm định")


def test_an_unchanged_appointment_is_not_called_a_reset() -> None:
    page = render_tracking_page(sample_view(original_appointment_at=None))
    assert "hẹn lại" not in page
    assert "Hẹn trả kết quả" in page


def test_a_dossier_not_yet_received_has_no_dates_and_no_steps() -> None:
    page = render_tracking_page(sample_view(status_code=1, received_at=None, appointment_at=None, steps=()))
    assert "Mới đăng ký" in page
    assert "Thời gian tiếp nhận" not in page
    assert "Chưa có bước xử lý nào" in page


def test_everything_is_escaped() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = render_tracking_page(
        sample_view(
            unit_name=evil,
            procedure_name=evil,
            code='"><b>',
            steps=(TrackingStep(datetime(2026, 11, 10, 9, 15, tzinfo=VN), evil, evil),),
            verified=True,
            applicant_name=evil,
        )
    )
    assert "<script" not in page
    assert "<img" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert {tag for tag, _ in parse(page).tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "p", "h1", "h2", "main", "section",
        "span", "dl", "dt", "dd", "br", "s", "ol", "li", "time", "footer",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (1, "Mới đăng ký"),
        (2, "Đã tiếp nhận"),
        (3, "Không được tiếp nhận"),
        (4, "Đang xử lý"),
        (5, "Yêu cầu bổ sung hồ sơ"),
        (6, "Chờ thực hiện nghĩa vụ tài chính"),
        (7, "Công dân đã rút hồ sơ"),
        (8, "Dừng xử lý"),
        (9, "Đã có kết quả"),
        (10, "Đã trả kết quả"),
    ],
)
def test_status_labels(code: int, label: str) -> None:
    assert status_label(code) == label
    assert f">{label}</span>" in render_tracking_page(sample_view(status_code=code))


def test_unknown_statuses_are_refused() -> None:
    assert set(STATUS_LABELS) == set(range(1, 11))
    with pytest.raises(ValueError, match="status"):
        sample_view(status_code=11)


def test_not_found_page_is_vietnamese_and_escaped() -> None:
    page = render_not_found_page("<X-1>")
    assert '<html lang="vi">' in page
    assert "Không tìm thấy hồ sơ" in page
    assert "&lt;X-1&gt;" in page
    assert "<X-1>" not in page
