"""The public tracking page of a dossier (Tra cứu hồ sơ): plain server-rendered HTML, no JavaScript.

Personal data (the applicant's name, the masked phone) is rendered only for a verified view: the
endpoint sets ``verified`` when the citizen has given the last 4 digits of the phone. Every value
is escaped; the page is mobile-first with inline CSS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import NamedTuple

from services.intake.domain import VN_TZ
from shared.pdf import vietnamese_datetime

STATUS_LABELS: dict[int, str] = {
    1: "Mới đăng ký",
    2: "Đã tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung hồ sơ",
    6: "Chờ thực hiện nghĩa vụ tài chính",
    7: "Công dân đã rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã có kết quả",
    10: "Đã trả kết quả",
}
# badge colours: in progress (blue), waiting for the citizen (amber), done (green), ended otherwise (grey)
_STATUS_TONE = {
    1: "info",
    2: "info",
    4: "info",
    5: "wait",
    6: "wait",
    9: "done",
    10: "done",
    3: "end",
    7: "end",
    8: "end",
}


class TrackingStep(NamedTuple):
    at: datetime
    unit_name: str
    text: str  # what happened, in Vietnamese


@dataclass(frozen=True)
class TrackingView:
    code: str
    procedure_name: str
    unit_name: str
    status_code: int
    received_at: datetime | None
    appointment_at: datetime | None
    original_appointment_at: datetime | None = None  # set when the appointment was reset (hẹn lại)
    steps: tuple[TrackingStep, ...] = field(default_factory=tuple)
    verified: bool = False
    applicant_name: str | None = None
    phone_masked: str | None = None
    verification_failed: bool = False  # the citizen gave 4 digits that did not match

    def __post_init__(self) -> None:
        if self.status_code not in STATUS_LABELS:
            raise ValueError(f"unknown dossier status code {self.status_code}")


def status_label(code: int) -> str:
    return STATUS_LABELS[code]


_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f3f5f8;color:#1c2430;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Noto Sans","Helvetica Neue",Arial,sans-serif}
header{background:#b3261e;color:#fff;padding:14px 16px}
header p{margin:0;font-size:.85rem;opacity:.9}
header h1{margin:2px 0 0;font-size:1.25rem;line-height:1.3}
main{max-width:40rem;margin:0 auto;padding:12px}
section{background:#fff;border-radius:10px;padding:14px 16px;margin:0 0 12px;box-shadow:0 1px 2px #0002}
h2{font-size:1.05rem;margin:0 0 10px}
.code{font-size:1.3rem;font-weight:700;letter-spacing:.02em;overflow-wrap:anywhere;margin:0 0 8px}
.badge{display:inline-block;padding:4px 12px;border-radius:999px;font-weight:600;font-size:.95rem}
.info{background:#e3ecfb;color:#12408a}.wait{background:#fff1d6;color:#7a4a00}
.done{background:#dff3e4;color:#17612d}.end{background:#eceef1;color:#464d57}
dl{margin:0}dt{font-size:.85rem;color:#5b6573;margin-top:10px}dd{margin:2px 0 0;font-weight:600;overflow-wrap:anywhere}
dt:first-child{margin-top:0}
.was{color:#5b6573;font-weight:400;font-size:.9rem}
.note{font-size:.9rem;color:#5b6573;margin:6px 0 0}
.alert{background:#fdecea;color:#8a1c14;border-radius:8px;padding:8px 10px;margin:0 0 10px;font-size:.95rem}
ol{list-style:none;margin:0;padding:0}
li{position:relative;padding:0 0 14px 20px;border-left:2px solid #d5dbe3;margin-left:6px}
li:last-child{border-left-color:transparent;padding-bottom:0}
li::before{content:"";position:absolute;left:-7px;top:4px;width:12px;height:12px;border-radius:50%;background:#b3261e}
.when{display:block;font-size:.85rem;color:#5b6573}.unit{display:block;font-weight:600}
label{display:block;margin:0 0 6px}
.row{display:flex;gap:8px}
input{flex:1;min-width:0;font:inherit;font-size:1.2rem;letter-spacing:.3em;padding:10px 12px;border:1px solid #9aa4b1;
border-radius:8px}
button{font:inherit;font-weight:600;padding:10px 16px;border:0;border-radius:8px;background:#b3261e;color:#fff}
footer{text-align:center;font-size:.8rem;color:#5b6573;padding:4px 16px 20px}
"""


def _page(title: str, body: str, footer: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        "<header><p>Cổng dịch vụ công</p><h1>Tra cứu tình trạng hồ sơ</h1></header>\n"
        f"<main>\n{body}</main>\n" + (f"<footer>{escape(footer)}</footer>\n" if footer else "") + "</body>\n</html>\n"
    )


def _short_time(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).strftime("%H:%M, %d/%m/%Y")


def _dl(rows: list[tuple[str, str]]) -> str:
    """Rows of (label, already-escaped HTML value)."""
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>\n"


def _summary(view: TrackingView) -> str:
    rows = [
        ("Thủ tục", escape(view.procedure_name)),
        ("Cơ quan tiếp nhận", escape(view.unit_name)),
    ]
    if view.received_at is not None:
        rows.append(("Thời gian tiếp nhận", escape(vietnamese_datetime(view.received_at))))
    if view.appointment_at is not None:
        when = escape(vietnamese_datetime(view.appointment_at))
        changed = view.original_appointment_at is not None and view.original_appointment_at != view.appointment_at
        if changed and view.original_appointment_at is not None:
            before = escape(vietnamese_datetime(view.original_appointment_at))
            rows.append(
                ("Hẹn trả kết quả (đã hẹn lại)", f'{when}<br><span class="was">Hẹn ban đầu: <s>{before}</s></span>')
            )
        else:
            rows.append(("Hẹn trả kết quả", when))
    return (
        f'<section aria-labelledby="code">\n<p class="code" id="code">{escape(view.code)}</p>\n'
        f'<p><span class="badge {_STATUS_TONE[view.status_code]}">{escape(status_label(view.status_code))}</span></p>\n'
        f"{_dl(rows)}</section>\n"
    )


def _personal(view: TrackingView) -> str:
    if view.verified:
        rows = [("Người nộp hồ sơ", escape(view.applicant_name or "—"))]
        rows.append(("Số điện thoại", escape(view.phone_masked or "—")))
        return f"<section>\n<h2>Thông tin người nộp</h2>\n{_dl(rows)}</section>\n"
    alert = ""
    if view.verification_failed:
        alert = '<p class="alert" role="alert">Số điện thoại không khớp với hồ sơ. Vui lòng kiểm tra lại.</p>\n'
    return (
        "<section>\n<h2>Xem thông tin người nộp</h2>\n"
        f"{alert}"
        '<form method="get">\n'
        '<label for="phone_last4">Nhập 4 số cuối của số điện thoại đã đăng ký khi nộp hồ sơ</label>\n'
        '<div class="row"><input id="phone_last4" name="phone_last4" type="text" inputmode="numeric" '
        'pattern="[0-9]{4}" minlength="4" maxlength="4" autocomplete="off" required placeholder="••••">'
        '<button type="submit">Xem</button></div>\n'
        "</form>\n"
        '<p class="note">Thông tin cá nhân chỉ hiển thị khi số điện thoại khớp với hồ sơ.</p>\n'
        "</section>\n"
    )


def _steps(view: TrackingView) -> str:
    if not view.steps:
        return '<section>\n<h2>Quá trình xử lý</h2>\n<p class="note">Chưa có bước xử lý nào.</p>\n</section>\n'
    items = "".join(
        f'<li><time class="when" datetime="{escape(s.at.isoformat())}">{escape(_short_time(s.at))}</time>'
        f'<span class="unit">{escape(s.unit_name)}</span>{escape(s.text)}</li>\n'
        for s in sorted(view.steps, key=lambda s: s.at)
    )
    return f"<section>\n<h2>Quá trình xử lý</h2>\n<ol>\n{items}</ol>\n</section>\n"


def render_tracking_page(view: TrackingView) -> str:
    footer = "Thông tin được cập nhật theo quá trình giải quyết hồ sơ tại các cơ quan."
    return _page(f"Tra cứu hồ sơ {view.code}", _summary(view) + _personal(view) + _steps(view), footer)


def render_not_found_page(code: str) -> str:
    body = (
        "<section>\n<h2>Không tìm thấy hồ sơ</h2>\n"
        f'<p>Không có hồ sơ nào mang mã <strong class="code">{escape(code)}</strong>.</p>\n'
        '<p class="note">Vui lòng kiểm tra lại mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, '
        "hoặc liên hệ Bộ phận Một cửa nơi đã nộp hồ sơ.</p>\n</section>\n"
    )
    return _page(f"Tra cứu hồ sơ {code} - không tìm thấy", body)


def render_too_many_tries_page(code: str, retry_after_s: int) -> str:
    body = (
        "<section>\n<h2>Bạn đã thử quá nhiều lần</h2>\n"
        f'<p>Vui lòng thử lại sau {retry_after_s} giây để xem hồ sơ <strong class="code">{escape(code)}</strong>.</p>\n'
        '<p class="note">Giới hạn này bảo vệ thông tin cá nhân của người nộp hồ sơ.</p>\n</section>\n'
    )
    return _page(f"Tra cứu hồ sơ {code}", body)
