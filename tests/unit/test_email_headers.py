"""Vietnamese subjects and sender names arrive exactly as written, however the headers are folded."""

from __future__ import annotations

import email
import email.policy

import pytest
from aiosmtplib.email import flatten_message

from services.notify.domain import Channel
from services.notify.providers import OutgoingMessage, build_email

SUBJECTS = [
    "Hồ sơ H56.101-261122-0001 đã được tiếp nhận",
    "Hồ sơ H56.14-261122-0001 đã được tiếp nhận",
    "Thông báo: hồ sơ H56.101-261122-0042 cần bổ sung giấy tờ trước ngày 26/11/2026 tại Bộ phận Một cửa phường",
    "Xin lỗi và hẹn lại ngày trả kết quả hồ sơ H56.101-261122-0007 (đề nghị gia hạn thời gian giải quyết)",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_subject_survives_folding_and_decoding(subject: str) -> None:
    message = OutgoingMessage(
        id="n-1",
        channel=Channel.EMAIL,
        recipient="an@example.vn",
        subject=subject,
        body="Kính gửi Ông/Bà Nguyễn Văn An,",
    )
    raw = flatten_message(build_email(message, "Bộ phận Một cửa phường Sơn Hà <motcua@lienthong.gov.vn>"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == "Bộ phận Một cửa phường Sơn Hà"
    body = parsed.get_body()
    assert body is not None
    assert body.get_content().strip() == "Kính gửi Ông/Bà Nguyễn Văn An,"
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n")[0].split(b"\n")
    start = next(i for i, line in enumerate(head) if line.startswith(b"Subject:"))
    end = next((i for i in range(start + 1, len(head)) if not head[i].startswith(b" ")), len(head))
    assert all(len(line) <= 78 for line in head[start:end]), "the subject is not folded as RFC 5322 advises"
