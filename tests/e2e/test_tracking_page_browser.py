"""The tracking page in a real browser at a phone's size: headless Chromium (Debian's ``chromium``).

The pages are rendered by the pure function and served on 127.0.0.1; Chromium takes a screenshot
(kept under ``var/screenshots/`` for a person to look at) and, on a copy with a probe script, reports
whether the page scrolls sideways. Skips when ``/usr/bin/chromium`` is not installed.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from services.intake.tracking_page import TrackingStep, TrackingView, render_not_found_page, render_tracking_page

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = (390, 844)
VN = ZoneInfo("Asia/Ho_Chi_Minh")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium is not installed (Debian: apt-get install -y chromium)"
)

# Loads a page in a phone-sized frame and writes its layout width and the frame's width into the DOM,
# which `--dump-dom` prints (headless Chromium's own window is never narrower than 500 px).
PROBE = (
    '<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="{src}" width="{w}" height="{h}" '
    'style="border:0"></iframe><script>document.getElementById("f").addEventListener("load",e=>{{'
    "const d=e.target.contentDocument.documentElement;"
    'document.body.setAttribute("data-probe",d.scrollWidth+"x"+d.clientWidth)}})</script></body></html>'
)


def view(verified: bool) -> TrackingView:
    return TrackingView(
        code="H56.14-261110-0012",
        procedure_name="Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        unit_name="Bộ phận Một cửa Ủy ban nhân dân phường Xuân Hương - Đà Lạt",
        status_code=5,
        received_at=datetime(2026, 11, 10, 9, 15, tzinfo=VN),
        appointment_at=datetime(2026, 11, 26, 14, 0, tzinfo=VN),
        original_appointment_at=datetime(2026, 11, 24, 9, 15, tzinfo=VN),
        steps=(
            TrackingStep(
                datetime(2026, 11, 10, 9, 15, tzinfo=VN), "Bộ phận Một cửa phường Xuân Hương", "Đã tiếp nhận hồ sơ"
            ),
            TrackingStep(
                datetime(2026, 11, 11, 8, 0, tzinfo=VN),
                "Chi nhánh Văn phòng đăng ký đất đai thành phố Đà Lạt",
                "Đã nhận hồ sơ chuyển đến, đang thẩm định",
            ),
            TrackingStep(
                datetime(2026, 11, 13, 15, 30, tzinfo=VN),
                "Chi nhánh Văn phòng đăng ký đất đai thành phố Đà Lạt",
                "Yêu cầu công dân bổ sung bản sao trích đo địa chính thửa đất",
            ),
        ),
        verified=verified,
        applicant_name="Nguyễn Thị Hồng Nhung",
        phone_masked="091****678",
    )


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    pages = {
        "/unverified": render_tracking_page(view(False)),
        "/verified": render_tracking_page(view(True)),
        "/not-found": render_not_found_page("H56.14-261110-9999"),
    }
    pages |= {f"{path}/probe": PROBE.format(src=path, w=PHONE[0], h=PHONE[1]) for path in list(pages)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            data = (body or "not found").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={PHONE[0]},{PHONE[1]}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


@pytest.mark.parametrize("page", ["unverified", "verified", "not-found"])
def test_the_page_fits_a_phone_and_is_screenshotted(site: str, tmp_path: Path, page: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    png = SCREENSHOTS / f"tracking-{page}-{PHONE[0]}x{PHONE[1]}.png"
    png.unlink(missing_ok=True)
    chromium(tmp_path, f"--screenshot={png}", f"{site}/{page}")
    assert png.exists()
    assert png.stat().st_size > 10_000  # a blank or error page compresses to far less
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == PHONE
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # text and the header band, not one flat colour

    dom = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", f"{site}/{page}/probe").stdout
    probe = re.search(r'data-probe="(\d+)x(\d+)"', dom)
    assert probe is not None, dom[:500]
    scroll_width, client_width = map(int, probe.groups())
    assert PHONE[0] - 20 <= client_width <= PHONE[0]  # less a vertical scrollbar, if the frame shows one
    assert scroll_width <= client_width, "the page scrolls sideways on a phone"
