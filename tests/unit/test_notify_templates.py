"""Notification templates as data: every template on every channel with real Vietnamese values, the
formatting of values, and every fault a template file can have caught at load, naming the file."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.notify.domain import Channel
from services.notify.sms_text import GSM, SmsEncoding, prepare_sms
from services.notify.templates import Rendered, TemplateCatalog, TemplateDataError, TemplateError
from services.notify.templates.formatting import vn_money

CODE = "H56.14-230407-0012"
LINK = "https://dichvucong.lamdong.example/tra-cuu/H56.14-230407-0012"
CITIZEN_COMMON = {"dossier_code", "tracking_link", "applicant_name", "procedure_name", "receiving_unit_name"}
UNIT_COMMON = {"dossier_code", "unit_name", "step_name", "deadline_at", "procedure_name"}
DATES = {"received_at", "appointment_at"}
# The names the handlers pass, per template (a template may declare a subset).
CONTRACT: dict[str, set[str]] = {
    "dossier.received_desk": CITIZEN_COMMON | DATES,
    "dossier.received_online": CITIZEN_COMMON | DATES,
    "dossier.received_postal": CITIZEN_COMMON | DATES,
    "postal.pickup_requested": CITIZEN_COMMON | {"tracking_number", "address"},
    "dossier.postal_return_requested": CITIZEN_COMMON | {"address"},
    "dossier.supplement_requested": CITIZEN_COMMON | {"items", "reason"},
    "dossier.payment_due": CITIZEN_COMMON | {"items", "amount_vnd", "reason"},
    "dossier.stopped": CITIZEN_COMMON | {"reason"},
    "dossier.refused": CITIZEN_COMMON | {"reason"},
    "dossier.withdrawn": CITIZEN_COMMON,
    "result.ready_desk": CITIZEN_COMMON | {"appointment_at"},
    "result.ready_postal": CITIZEN_COMMON | {"tracking_number", "address"},
    "result.ready_online": CITIZEN_COMMON,
    "dossier.due_soon": CITIZEN_COMMON | {"appointment_at"},
    "dossier.apology": CITIZEN_COMMON | {"previous_appointment_at", "appointment_at", "reason"},
    "step.assigned": UNIT_COMMON,
    "step.due_soon": UNIT_COMMON,
    "step.overdue": UNIT_COMMON,
    "desk.step_overdue": UNIT_COMMON | {"receiving_unit_name"},
    "desk.apology_required": UNIT_COMMON
    | {"appointment_at", "proposed_appointment_at", "reason", "responsible_unit_name"},
}
URGENT = {"dossier.due_soon", "dossier.apology", "step.due_soon", "step.overdue"}
NOT_URGENT = {"dossier.supplement_requested"}

VALUES: dict[str, object] = {
    "dossier_code": CODE,
    "tracking_link": LINK,
    "applicant_name": "Nguyễn Thị Phương Thảo",
    "procedure_name": "Đăng ký biến động quyền sử dụng đất",
    "receiving_unit_name": "Bộ phận Một cửa UBND phường Xuân Hương - Đà Lạt",
    "received_at": datetime(2026, 4, 7, 1, 30, tzinfo=UTC),
    "appointment_at": datetime(2026, 4, 21, 9, 0, tzinfo=UTC),
    "previous_appointment_at": datetime(2026, 4, 14, 9, 0, tzinfo=UTC),
    "proposed_appointment_at": datetime(2026, 4, 21, 9, 0, tzinfo=UTC),
    "deadline_at": datetime(2026, 4, 10, 9, 0, tzinfo=UTC),
    "tracking_number": "EB123456789VN",
    "address": "Số 12 đường Trần Phú, phường Xuân Hương - Đà Lạt, tỉnh Lâm Đồng",
    "items": ["Bản sao Giấy chứng nhận", "Tờ khai lệ phí trước bạ"],
    "reason": "Thiếu chữ ký của người đồng sử dụng đất",
    "amount_vnd": 1_250_000,
    "unit_name": "Chi nhánh Văn phòng đăng ký đất đai Đà Lạt",
    "step_name": "Thẩm định hồ sơ",
    "responsible_unit_name": "Chi nhánh Văn phòng đăng ký đất đai Đà Lạt",
}
VIETNAMESE = re.compile("[ăâđêôơưàáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵằắẳẵặầấẩẫậềếểễệồốổỗộờớởỡợừứửữự]", re.IGNORECASE)


@pytest.fixture(scope="module", params=list(SmsEncoding))
def catalog(request: pytest.FixtureRequest) -> TemplateCatalog:
    policy: SmsEncoding = request.param
    return TemplateCatalog.load(sms_policy=policy)


def values_for(catalog: TemplateCatalog, key: str, **overrides: object) -> dict[str, object]:
    return {name: overrides.get(name, VALUES[name]) for name in catalog.placeholders(key)}


def render(catalog: TemplateCatalog, key: str, channel: Channel, **overrides: object) -> Rendered:
    return catalog.render(key, channel, values_for(catalog, key, **overrides))


def texts(rendered: Rendered) -> list[str]:
    return [t for t in (rendered.subject, rendered.body, rendered.html, *rendered.zalo_params.values()) if t]


def test_the_catalog_holds_the_agreed_templates(catalog: TemplateCatalog) -> None:
    assert set(catalog.keys()) == set(CONTRACT)
    for key, names in CONTRACT.items():
        assert set(catalog.placeholders(key)) <= names, key
        assert catalog.version(key) >= 1
        if key.startswith(("step.", "desk.")):
            assert catalog.channels(key) == {Channel.EMAIL, Channel.SMS}, key
            assert catalog.audience(key) == ("desk" if key.startswith("desk.") else "unit")
        else:
            assert catalog.channels(key) == set(Channel), key
            assert catalog.audience(key) == "citizen"
            assert set(catalog.placeholders(key)) >= CITIZEN_COMMON, key
    assert all(catalog.urgent(key) for key in URGENT)
    assert not any(catalog.urgent(key) for key in NOT_URGENT)


CASES = [
    (key, channel)
    for key in sorted(CONTRACT)
    for channel in Channel
    if key[:5] not in {"step.", "desk."} or channel is not Channel.ZALO
]


@pytest.mark.parametrize(("key", "channel"), CASES)
def test_every_template_renders_on_every_channel(catalog: TemplateCatalog, key: str, channel: Channel) -> None:
    rendered = render(catalog, key, channel)
    assert (rendered.template, rendered.version, rendered.channel) == (key, catalog.version(key), channel)
    assert (rendered.audience, rendered.urgent) == (catalog.audience(key), catalog.urgent(key))
    for text in texts(rendered):
        assert unicodedata.is_normalized("NFC", text)
        assert "{" not in text and "}" not in text, text
    assert CODE in rendered.body
    if rendered.audience == "citizen":
        assert LINK in rendered.body
        assert rendered.html is None or LINK in rendered.html
    if channel is Channel.SMS:
        policy = catalog.sms_policy
        assert (rendered.subject, rendered.html, rendered.zalo_template_id, rendered.zalo_params) == (
            None,
            None,
            None,
            {},
        )
        assert rendered.encoding is policy
        sent = prepare_sms(rendered.body, policy)
        assert sent.text == rendered.body  # the body is exactly what is sent
        assert rendered.parts == sent.parts <= catalog.sms_max_parts
        if policy is SmsEncoding.ASCII:
            assert rendered.body.isascii() and set(rendered.body) <= GSM
        else:
            assert VIETNAMESE.search(rendered.body)
    else:
        assert (rendered.parts, rendered.encoding) == (None, None)
        assert all(VIETNAMESE.search(t) for t in (rendered.subject or "", rendered.body, rendered.html or "") if t)
    if channel is Channel.ZALO:
        assert rendered.zalo_template_id
        assert rendered.zalo_params
        assert (rendered.subject, rendered.html) == (None, None)
    if channel is Channel.EMAIL:
        assert rendered.subject and rendered.html
        assert "\n" not in rendered.subject
        assert rendered.zalo_template_id is None
        assert rendered.body.startswith("Kính gửi")


def test_the_sms_is_the_text_sent_under_each_policy() -> None:
    rendered = {
        policy: render(TemplateCatalog.load(sms_policy=policy), "dossier.received_desk", Channel.SMS)
        for policy in SmsEncoding
    }
    assert rendered[SmsEncoding.UNICODE].body == (
        f"Hồ sơ {CODE} đã được tiếp nhận, hẹn trả kết quả 16:00 ngày 21/04/2026. Tra cứu: {LINK}"
    )
    assert rendered[SmsEncoding.ASCII].body == (
        f"Ho so {CODE} da duoc tiep nhan, hen tra ket qua 16:00 ngay 21/04/2026. Tra cuu: {LINK}"
    )
    assert (rendered[SmsEncoding.UNICODE].parts, rendered[SmsEncoding.ASCII].parts) == (3, 1)


@pytest.mark.parametrize(("key", "channel"), [c for c in CASES if c[1] is Channel.SMS])
def test_every_sms_fits_the_part_limit_whatever_the_lengths_of_the_values(
    catalog: TemplateCatalog, key: str, channel: Channel
) -> None:
    longest = {
        name: ("x" * length if name.endswith(("_code", "_link", "_number")) else "ệ" * (length + 50))
        for name, length in catalog.placeholders(key).items()
    }
    assert (catalog.render(key, channel, longest).parts or 99) <= catalog.sms_max_parts


def test_html_gets_escaped_values_and_plain_text_does_not(catalog: TemplateCatalog) -> None:
    reason = "<script>alert('x')</script> & \"quote\""
    name = "Trần <b>Văn</b> An"
    email = render(catalog, "dossier.refused", Channel.EMAIL, reason=reason, applicant_name=name)
    assert email.html is not None
    assert "<script>" not in email.html and "<b>Văn" not in email.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quote&quot;" in email.html
    assert "Trần &lt;b&gt;Văn&lt;/b&gt; An" in email.html
    assert reason in email.body and name in email.body
    assert f'<a href="{LINK}">{LINK}</a>' in email.html


def test_an_email_subject_stays_on_one_line(catalog: TemplateCatalog) -> None:
    email = render(catalog, "step.assigned", Channel.EMAIL, step_name="Thẩm định\r\nBcc: x@example.com")
    assert email.subject == f"Hồ sơ {CODE} chuyển đến đơn vị: Thẩm định Bcc: x@example.com"


def test_times_are_shown_in_vietnam_time(catalog: TemplateCatalog) -> None:
    received = datetime(2026, 4, 7, 1, 30, tzinfo=UTC)
    email = render(catalog, "dossier.received_desk", Channel.EMAIL, received_at=received)
    assert "Thời gian tiếp nhận: 08:30 ngày 07/04/2026" in email.body
    plus_nine = received.astimezone(timezone(timedelta(hours=9)))
    assert render(catalog, "dossier.received_desk", Channel.EMAIL, received_at=plus_nine).body == email.body
    late = datetime(2026, 4, 7, 17, 5, tzinfo=UTC)  # already the 8th in Vietnam
    sms = render(catalog, "dossier.due_soon", Channel.SMS, appointment_at=late)
    assert (
        "00:05 ngày 08/04/2026" if catalog.sms_policy is SmsEncoding.UNICODE else "00:05 ngay 08/04/2026"
    ) in sms.body
    dated = render(catalog, "dossier.due_soon", Channel.EMAIL, appointment_at=date(2026, 4, 8))
    assert "Thời gian hẹn trả kết quả: 08/04/2026" in dated.body


@pytest.mark.parametrize(
    ("amount", "text"),
    [(0, "0 đồng"), (999, "999 đồng"), (1_000, "1.000 đồng"), (1_250_000, "1.250.000 đồng"),
     (1_234_567_890, "1.234.567.890 đồng"), (-50_000, "-50.000 đồng")],
)  # fmt: skip
def test_money_is_written_the_vietnamese_way(amount: int, text: str) -> None:
    assert vn_money(amount) == text


def test_amounts_and_lists_in_a_payment_notice(catalog: TemplateCatalog) -> None:
    email = render(catalog, "dossier.payment_due", Channel.EMAIL, items=["Lệ phí trước bạ", "Phí thẩm định"])
    assert "Số tiền: 1.250.000 đồng" in email.body
    assert "Khoản phải nộp: Lệ phí trước bạ; Phí thẩm định" in email.body
    unknown = render(catalog, "dossier.payment_due", Channel.EMAIL, amount_vnd="theo thông báo")
    assert "Số tiền: theo thông báo" in unknown.body
    sms = render(catalog, "dossier.payment_due", Channel.SMS)
    assert ("1.250.000 đồng" if catalog.sms_policy is SmsEncoding.UNICODE else "1.250.000 dong") in sms.body


def test_long_values_are_cut_in_sms_and_zalo_but_shown_whole_in_email(catalog: TemplateCatalog) -> None:
    items = [f"Bản sao chứng thực giấy tờ số {n} về quyền sử dụng đất" for n in range(1, 9)]
    whole = "; ".join(items)
    key = "dossier.supplement_requested"
    limit = catalog.placeholders(key)["items"]
    zalo = render(catalog, key, Channel.ZALO, items=items)
    cut = zalo.zalo_params["noi_dung_bo_sung"]
    assert len(cut) <= limit and cut.endswith("…") and whole.startswith(cut[:-1])
    assert cut in zalo.body
    sms = render(catalog, key, Channel.SMS, items=items)
    mark = "…" if catalog.sms_policy is SmsEncoding.UNICODE else "..."
    assert mark + ". Chi tiết" in sms.body or mark + ". Chi tiet" in sms.body
    assert (sms.parts or 99) <= 4
    email = render(catalog, key, Channel.EMAIL, items=items)
    assert whole in email.body and "…" not in email.body


def test_an_identifier_is_never_cut(catalog: TemplateCatalog) -> None:
    with pytest.raises(TemplateDataError, match="tracking_link: 81 characters, more than the 80 declared"):
        render(catalog, "dossier.withdrawn", Channel.SMS, tracking_link="https://x.example/" + "a" * 63)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tracking_link": None}, "tracking_link: cannot show a NoneType"),
        ({"appointment_at": datetime(2026, 4, 7, 8, 30)}, "appointment_at: naive datetime"),
        ({"reason": 3.5}, "reason: cannot show a float"),
        ({"reason": True}, "reason: a yes/no value"),
        ({"reason": ["ok", 1]}, "reason: cannot show a list"),
    ],
)
def test_values_that_cannot_be_shown_are_refused(
    catalog: TemplateCatalog, values: Mapping[str, object], message: str
) -> None:
    with pytest.raises(TemplateDataError, match=re.escape(f"dossier.apology (sms): {message}")):
        render(catalog, "dossier.apology", Channel.SMS, **values)


def test_missing_and_undeclared_values_are_refused(catalog: TemplateCatalog) -> None:
    data = values_for(catalog, "dossier.withdrawn")
    del data["applicant_name"]
    with pytest.raises(TemplateDataError, match=r"missing value.*applicant_name"):
        catalog.render("dossier.withdrawn", Channel.EMAIL, data)
    data = values_for(catalog, "dossier.withdrawn") | {"reason": "x"}
    with pytest.raises(TemplateDataError, match=r"undeclared value.*reason"):
        catalog.render("dossier.withdrawn", Channel.EMAIL, data)


def test_an_unknown_template_or_channel_is_a_key_error(catalog: TemplateCatalog) -> None:
    with pytest.raises(KeyError, match="no template"):
        catalog.render("dossier.nonexistent", Channel.SMS, {})
    with pytest.raises(KeyError, match="has no zalo channel"):
        render(catalog, "step.assigned", Channel.ZALO)


# --- faults in template files, caught at load -------------------------------------------------------------

GOOD = textwrap.dedent("""\
    key: {key}
    version: 1
    audience: citizen
    urgent: false
    description: Hồ sơ đã được tiếp nhận
    placeholders:
      dossier_code: 24
      tracking_link: 80
      applicant_name: 60
    channels:
      sms:
        body: "Hồ sơ {{dossier_code}} đã được tiếp nhận. Tra cứu: {{tracking_link}}"
      zalo:
        template_id: zns-1
        params: {{ten: "{{applicant_name}}", ma: "{{dossier_code}}", link: "{{tracking_link}}"}}
        body: "Hồ sơ {{dossier_code}}: {{tracking_link}}"
      email:
        subject: "Hồ sơ {{dossier_code}}"
        body: "Kính gửi Ông/Bà {{applicant_name}}. Hồ sơ {{dossier_code}}: {{tracking_link}}"
        html: "<p>Kính gửi Ông/Bà {{applicant_name}}. Hồ sơ {{dossier_code}}: {{tracking_link}}</p>"
""")
SUBJECT = 'subject: "Hồ sơ {{dossier_code}}"'


def write(directory: Path, text: str, key: str = "dossier.test", name: str | None = None) -> Path:
    path = directory / f"{name or key}.yaml"
    path.write_text(text.format(key=key), encoding="utf-8")
    return path


def test_a_good_file_loads_and_renders(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    catalog = TemplateCatalog.load(tmp_path)
    assert catalog.keys() == ["dossier.test"]
    data = {"dossier_code": CODE, "tracking_link": LINK, "applicant_name": "An"}
    zalo = catalog.render("dossier.test", Channel.ZALO, data)
    assert (zalo.zalo_template_id, zalo.zalo_params) == ("zns-1", {"ten": "An", "ma": CODE, "link": LINK})
    assert zalo.body == f"Hồ sơ {CODE}: {LINK}"


def must_show(where: str, name: str) -> str:
    return f"{where} of a citizen template must show {{{name}}}"


BAD = [
    (GOOD.replace("Tra cứu: {{tracking_link}}", "{{tracking_link}} {{extra}}"), "sms.body uses undeclared extra"),
    (GOOD.replace("applicant_name: 60", "applicant_name: 60\n  reason: 60"), "used in no channel: reason"),
    (GOOD.replace(". Tra cứu: {{tracking_link}}", "."), must_show("channels.sms.body", "tracking_link")),
    (GOOD.replace("<p>Kính gửi Ông/Bà {{applicant_name}}. Hồ sơ {{dossier_code}}: ", "<p>"),
     must_show("channels.email.html", "dossier_code")),
    (GOOD.replace(', link: "{{tracking_link}}"', "").replace(': {{tracking_link}}"\n  email', '"\n  email'),
     must_show("channels.zalo (body or params)", "tracking_link")),
    (GOOD.replace("urgent: false", "urgent: false\npriority: 1"), "unknown field(s) in the template: priority"),
    (GOOD.replace("template_id: zns-1", "template_id: zns-1\n    button: x"),
     "unknown field(s) in channels.zalo: button"),
    (GOOD.replace("    html:", "    htm:"), "unknown field(s) in channels.email: htm"),
    (GOOD.replace("    template_id: zns-1\n", ""), "channels.zalo needs template_id"),
    (GOOD.replace("    html:", "    # html:"), "channels.email needs html"),
    (GOOD.replace("  sms:", "  fax:"), "unknown channel 'fax'"),
    (GOOD.replace("version: 1", "version: 0"), "version must be a whole number ≥ 1"),
    (GOOD.replace("audience: citizen", "audience: everyone"), "audience 'everyone' is not one of"),
    (GOOD.replace("urgent: false", "urgent: maybe"), "urgent must be true or false"),
    (GOOD.replace("tracking_link: 80", "tracking_link: 0"), "placeholders.tracking_link must be a maximum length"),
    (GOOD.replace('ten: "{{applicant_name}}"', 'ten: "{{applicant_name.upper}}"'), "is not a plain name"),
    (GOOD.replace(SUBJECT, 'subject: "Hồ sơ {{dossier_code:>30}}"'), "has a conversion or format spec"),
    (GOOD.replace(SUBJECT, 'subject: "Hồ sơ {{0}}"'), "placeholder {0} is not a plain name"),
    (GOOD.replace(SUBJECT, 'subject: "Hồ sơ {{dossier_code"'), "channels.email.subject: malformed placeholder"),
    (GOOD.replace("Hồ sơ đã được", unicodedata.normalize("NFD", "Hồ sơ đã được")), "description is not NFC"),
    (GOOD.replace("version: 1", "version: 1\nversion: 2"), "key 'version' given twice"),
    (GOOD.replace("channels:", "channels: ["), "not readable YAML"),
    ("- just\n- a list\n", "the file must be a mapping"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_faulty_file_is_refused_naming_the_file_and_the_fault(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TemplateError) as caught:
        TemplateCatalog.load(tmp_path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_the_key_must_be_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, key="dossier.test", name="dossier.other")
    with pytest.raises(TemplateError, match=re.escape(f"{path}: key 'dossier.test' differs from the file name")):
        TemplateCatalog.load(tmp_path)


def test_an_sms_too_long_for_the_parts_limit_is_refused_at_load(tmp_path: Path) -> None:
    """At worst 27 + 24 + 80 septets and the name cut to 59 + "..." (the "…" unaccented): 193, two GSM parts."""
    path = write(tmp_path, GOOD.replace("Tra cứu: {{tracking_link}}", "{{tracking_link}} {{applicant_name}}"))
    TemplateCatalog.load(tmp_path, sms_policy=SmsEncoding.ASCII, sms_max_parts=2)
    with pytest.raises(TemplateError, match=re.escape(f"{path}: SMS body too long: 2 parts > 1")):
        TemplateCatalog.load(tmp_path, sms_policy=SmsEncoding.ASCII, sms_max_parts=1)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no template files"):
        TemplateCatalog.load(tmp_path)
    with pytest.raises(TemplateError, match="cannot list templates"):
        TemplateCatalog.load(tmp_path / "missing")


def test_the_packaged_templates_are_checked_against_the_parts_limit() -> None:
    """The shipped texts need up to three parts at worst: a one-part budget refuses them."""
    with pytest.raises(TemplateError, match="too long"):
        TemplateCatalog.load(sms_policy=SmsEncoding.ASCII, sms_max_parts=1)
