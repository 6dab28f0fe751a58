"""notify when the world misbehaves: an SMS operator down, a phone without Zalo, citizens who choose their
channels or opt out by SMS keyword, forged, replayed and failed receipts, an administrator's resend, a crash
between the operator's acceptance and our record of it, both SMS operators down, and quiet hours.

The tests share one stack and its sandbox operators; each uses its own phone number and address, so what the
operators received does not mix. A test that makes an operator misbehave, or restarts notify with other
settings, puts things back when it ends."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from services.devstack import DevStack
from services.notify.domain import VN_TZ
from tests.e2e.conftest import client
from tests.support.dossier_api import ok, problem
from tests.support.infra import Broker
from tests.support.notify_api import (
    Item,
    at,
    file_dossier,
    has,
    international,
    mail_to,
    metric,
    notification,
    notifications,
    notify_with,
    one,
    open_work,
    operator_failing,
    receipt,
    receipts,
    restart_notify,
    sandbox_get,
    sandbox_post,
    signed_receipt,
    sms_sent,
    statuses,
    wait_notifications,
    webhook_answer,
    zalo_sent,
)
from tests.support.stacks import db_rows, running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

WAIT = 90
REASON = {"reason": "Công dân báo chưa nhận được"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("notify-faults"), broker) as s:
        yield s


# ---- operators and channels ---------------------------------------------------------------------------


def test_the_sms_goes_through_operator_b_while_operator_a_is_down(stack: DevStack) -> None:
    phone = "0912000101"
    with operator_failing(stack, "sms-a", "error"):
        code = file_dossier(stack, phone=phone, channels=["sms"])
        items = wait_notifications(stack, code, lambda i: has(i, "sms", "delivered"), "the SMS to be delivered")

    sms = one(items, "sms")
    assert len(items) == 1, items
    at_b = sandbox_get(stack, "/sms-b/messages", to=phone)
    assert [m["reference"] for m in at_b] == [sms["id"]]
    assert (sms["provider"], sms["provider_reference"], sms["attempts"]) == ("sms-b", at_b[0]["message_id"], 1)
    assert sandbox_get(stack, "/sms/messages", to=phone) == [], "operator A refused it: it holds nothing"
    assert statuses(sms) == ["created", "sending", "sent", "delivered"]
    assert sms["history"][-1]["detail"].startswith("sms-b receipt"), sms["history"]
    assert sandbox_get(stack, "/sandbox/failures")["sms-a"]["mode"] == "ok"


def test_a_phone_without_zalo_falls_back_to_one_sms(stack: DevStack) -> None:
    phone, email = "0912000102", "khong.zalo@example.vn"
    sandbox_post(stack, "/sandbox/zalo/no-account", {"phone": phone})
    code = file_dossier(stack, phone=phone, email=email, channels=["zalo", "sms", "email"])

    def settled(items: list[Item]) -> bool:
        return (
            has(items, "zalo", "permanent-failure") and has(items, "sms", "delivered") and has(items, "email", "sent")
        )

    items = wait_notifications(stack, code, settled, "Zalo to fail and the SMS and email to go")
    zalo, sms, mail = one(items, "zalo"), one(items, "sms"), one(items, "email")
    assert len(items) == 3, items
    assert statuses(zalo) == ["created", "sending", "permanent-failure"]
    assert "-118" in zalo["history"][-1]["detail"], zalo["history"]
    assert (zalo["fallback_of"], sms["fallback_of"], mail["fallback_of"]) == (None, zalo["id"], None)
    assert zalo_sent(stack, phone) == [], "Zalo refused it: it holds nothing"
    assert [m["reference"] for m in sms_sent(stack, to=phone)] == [sms["id"]]
    assert len(mail_to(stack, email)) == 1 and len(mail_to(stack, email, mail["id"])) == 1


def test_email_only_gets_email_and_no_channel_gets_nothing(stack: DevStack) -> None:
    phone, email = "0912000103", "chi.thu@example.vn"
    code = file_dossier(stack, phone=phone, email=email, channels=["email"])
    items = wait_notifications(stack, code, lambda i: has(i, "email", "sent"), "the email to be sent")
    assert [n["channel"] for n in items] == ["email"]
    assert len(mail_to(stack, email, items[0]["id"])) == 1

    quiet_phone, quiet_email = "0912000104", "khong.nhan@example.vn"
    silent = file_dossier(stack, phone=quiet_phone, email=quiet_email, channels=[])
    contact = wait_until(
        lambda: db_rows(stack, "notify", "SELECT channels FROM dossier_contact WHERE dossier_code = :c", c=silent),
        WAIT,
        "notify to take in the dossier",
    )
    assert contact == [("",)]
    # The unit's alert comes after the citizen's message would have: by then it would have been sent too.
    wait_notifications(stack, silent, lambda i: has(i, "email", "sent"), "the unit's alert", audience="unit")
    assert notifications(stack, silent) == []
    for dossier_phone in (phone, quiet_phone):
        assert sms_sent(stack, to=dossier_phone) == [] and zalo_sent(stack, dossier_phone) == []
    assert mail_to(stack, quiet_email) == []


# ---- opt-outs -----------------------------------------------------------------------------------------


def inbound(stack: DevStack, phone: str, text: str) -> tuple[int | None, object]:
    """The citizen texts ``text`` to the brandname through operator A; what notify answered."""
    sent = sandbox_post(
        stack, "/sandbox/sms/inbound", {"from": international(phone), "text": text, "provider": "sms-a"}
    )
    return webhook_answer(sent)


def opt_outs(portal: httpx.Client, address: str) -> list[Item]:
    response = portal.get("/v1/opt-outs", params={"address": address})
    assert response.status_code == 200, response.text
    found: list[Item] = response.json()
    return found


def test_an_sms_keyword_opts_the_number_out_of_sms_and_dk_back_in(stack: DevStack) -> None:
    phone, email = "0912000105", "tu.choi@example.vn"
    with client(stack, "notify", stack.key("dev-portal")) as portal:
        assert inbound(stack, phone, "TC") == (200, {"outcome": "opt-out"})
        listed = opt_outs(portal, phone)
        assert [(o["channel"], o["address"], o["source"]) for o in listed] == [("sms", phone, "sms:sms-a")]
        assert opt_outs(portal, international(phone)) == listed

        # Every channel allowed (the default order): the phone is reached by Zalo, which TC did not stop.
        code = file_dossier(stack, phone=phone, email=email)
        items = wait_notifications(
            stack, code, lambda i: has(i, "zalo", "delivered") and has(i, "email", "sent"), "Zalo and email"
        )
        assert sorted(n["channel"] for n in items) == ["email", "zalo"]
        assert sms_sent(stack, to=phone) == [], "an opted-out number gets no SMS"
        assert [m["tracking_id"] for m in zalo_sent(stack, phone)] == [one(items, "zalo")["id"]]

        assert inbound(stack, phone, "DK") == (200, {"outcome": "opt-in"})
        assert opt_outs(portal, phone) == []
        again = file_dossier(stack, phone=phone, email=email)
        items = wait_notifications(
            stack, again, lambda i: has(i, "sms", "delivered") and has(i, "email", "sent"), "SMS and email"
        )
        assert sorted(n["channel"] for n in items) == ["email", "sms"]
        assert [m["reference"] for m in sms_sent(stack, to=phone)] == [one(items, "sms")["id"]]


def test_opting_out_through_the_api(stack: DevStack) -> None:
    phone, email = "0912000106", "Lan.Pham@Example.vn"
    with client(stack, "notify", stack.key("dev-portal")) as portal:
        made = ok(portal.post("/v1/opt-outs", json={"channel": "email", "address": email}), 201)
        assert (made["channel"], made["address"], made["source"]) == ("email", email.lower(), "api")
        assert ok(portal.post("/v1/opt-outs", json={"channel": "email", "address": email}), 200) == made
        assert [o["channel"] for o in opt_outs(portal, email)] == ["email"]
        problem(portal.post("/v1/opt-outs", json={"channel": "fax", "address": email}), 422)

        code = file_dossier(stack, phone=phone, email=email, channels=["sms", "email"])
        items = wait_notifications(stack, code, lambda i: has(i, "sms", "delivered"), "the SMS to be delivered")
        assert [n["channel"] for n in items] == ["sms"], "an opted-out address gets no email"
        assert mail_to(stack, email) == [] and mail_to(stack, email.lower()) == []

        assert portal.delete(f"/v1/opt-outs/email/{email}").status_code == 204
        problem(portal.delete(f"/v1/opt-outs/email/{email}"), 404)
        assert opt_outs(portal, email) == []
    with client(stack, "notify", stack.key("dev-ops")) as reader:
        problem(reader.post("/v1/opt-outs", json={"channel": "sms", "address": phone}), 403)


# ---- receipts -----------------------------------------------------------------------------------------


def test_forged_receipts_are_refused_and_a_signed_one_counts_once(stack: DevStack) -> None:
    phone = "0912000107"
    with receipts(stack, "none"):
        code = file_dossier(stack, phone=phone, channels=["sms"])
        sms = one(wait_notifications(stack, code, lambda i: has(i, "sms", "sent"), "the SMS to be sent"), "sms")

    for signing in ("none", "wrong", "stale"):
        forged = sandbox_post(
            stack,
            "/sandbox/receipts/forge",
            {"provider": "sms-a", "reference": sms["id"], "status": "failed", "signing": signing},
        )
        status, answer = webhook_answer(forged)
        assert status == 401 and isinstance(answer, dict) and answer["status"] == 401, (signing, answer)
    unsigned = httpx.post(f"{stack.config.url('notify')}/v1/receipts/sms-a", json=receipt(sms["id"], "failed"))
    problem(unsigned, 401)
    assert notification(stack, sms["id"]) == sms, "a refused receipt changes nothing, not even the history"

    delivered = receipt(sms["id"], "delivered", sms["provider_reference"])
    assert ok(signed_receipt(stack, "sms-a", delivered)) == {"outcome": "applied"}
    assert ok(signed_receipt(stack, "sms-a", delivered)) == {"outcome": "replay"}
    assert ok(signed_receipt(stack, "sms-a", receipt(sms["id"], "failed"))) == {"outcome": "final"}
    assert ok(signed_receipt(stack, "sms-a", receipt(str(uuid.uuid4()), "delivered"))) == {"outcome": "unknown"}
    after = notification(stack, sms["id"])
    assert statuses(after) == ["created", "sending", "sent", "delivered"]
    assert len(notifications(stack, code)) == 1, "a failed receipt after delivery starts no fallback"


def test_a_replayed_receipt_changes_nothing(stack: DevStack) -> None:
    phone = "0912000108"
    code = file_dossier(stack, phone=phone, channels=["sms"])
    sms = one(wait_notifications(stack, code, lambda i: has(i, "sms", "delivered"), "the SMS to be delivered"), "sms")
    sent = sandbox_get(stack, "/sandbox/receipts", reference=sms["id"])
    assert len(sent) == 1 and webhook_answer(sent[0]) == (200, {"outcome": "applied"}), sent

    replayed = sandbox_post(stack, "/sandbox/receipts/replay", {"receipt_id": sent[0]["payload"]["receipt_id"]})
    assert webhook_answer(replayed) == (200, {"outcome": "replay"})
    after = notification(stack, sms["id"])
    assert after == sms
    assert statuses(after).count("delivered") == 1


def test_a_failed_receipt_is_a_permanent_failure_and_the_next_channel_is_tried(stack: DevStack) -> None:
    phone, email = "0912000109", "bao.loi@example.vn"
    with receipts(stack, "fail"):
        code = file_dossier(stack, phone=phone, email=email, channels=["sms", "zalo", "email"])
        items = wait_notifications(
            stack,
            code,
            lambda i: (
                has(i, "sms", "permanent-failure") and has(i, "zalo", "permanent-failure") and has(i, "email", "sent")
            ),
            "the SMS and its Zalo fallback to fail",
        )

    sms, zalo, mail = one(items, "sms"), one(items, "zalo"), one(items, "email")
    assert len(items) == 3, "the email was sent already: nothing comes after Zalo"
    assert (sms["fallback_of"], zalo["fallback_of"], mail["fallback_of"]) == (None, sms["id"], None)
    failed = sms["history"][-1]
    assert failed["status"] == "permanent-failure"
    assert "sms-a receipt" in failed["detail"] and "subscriber unreachable" in failed["detail"], failed
    at_operator = sms_sent(stack, to=phone)
    assert [m["reference"] for m in at_operator] == [sms["id"]]
    assert sms["provider_reference"] == at_operator[0]["message_id"]
    assert [m["tracking_id"] for m in zalo_sent(stack, phone)] == [zalo["id"]]
    assert zalo["history"][-1]["detail"].startswith("zalo receipt"), zalo["history"]


# ---- an administrator's resend ------------------------------------------------------------------------


def test_an_administrator_resends_once_per_idempotency_key(stack: DevStack) -> None:
    phone = "0912000113"
    code = file_dossier(stack, phone=phone, channels=["sms"])
    sms = one(wait_notifications(stack, code, lambda i: has(i, "sms", "delivered"), "the SMS to be delivered"), "sms")
    path = f"/v1/notifications/{sms['id']}/resend"
    key = {"Idempotency-Key": f"resend-{uuid.uuid4()}"}
    with client(stack, "notify") as admin:
        first = admin.post(path, json=REASON, headers=key)
        again = admin.post(path, json=REASON, headers=key)
        problem(admin.post(path, json={}, headers=key), 422)
        missing_key = problem(admin.post(path, json=REASON), 428)
        assert [e["field"] for e in missing_key["errors"]] == ["Idempotency-Key"]
        other_key = {"Idempotency-Key": str(uuid.uuid4())}
        problem(admin.post(f"/v1/notifications/{uuid.uuid4()}/resend", json=REASON, headers=other_key), 404)
    with client(stack, "notify", stack.key("dev-portal")) as portal:
        problem(portal.post(path, json=REASON), 403)

    made = ok(first, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert made["id"] != sms["id"] and made["resend_of"] == sms["id"] and made["fallback_of"] is None
    assert (made["channel"], made["recipient"], made["template"]) == ("sms", phone, sms["template"])
    assert made["status"] == "created" and REASON["reason"] in made["history"][0]["detail"]
    assert again.status_code == 201 and again.json() == made
    assert again.headers.get("Idempotent-Replayed") == "true"

    items = wait_notifications(
        stack, code, lambda i: any(n["id"] == made["id"] and n["status"] == "delivered" for n in i), "the resend"
    )
    assert len(items) == 2, "two requests with one key resend once"
    resent = next(n for n in items if n["id"] == made["id"])
    at_operator = sms_sent(stack, to=phone)
    assert [m["reference"] for m in at_operator] == [sms["id"], made["id"]]
    assert resent["provider_reference"] == at_operator[1]["message_id"]
    assert resent["body"] == sms["body"]
    assert notification(stack, sms["id"]) == sms, "the first notification is left as it was"


# ---- a crash between the operator's acceptance and our record -----------------------------------------

FAILPOINT = {"LIENTHONG_FAILPOINTS": "notify.after_provider_accepted=kill"}


def crash_after_acceptance(stack: DevStack, workdir: Path, *, phone: str, email: str, channel: str) -> Item:
    """File a dossier for a citizen reached on ``channel`` alone while notify kills itself right after the
    operator accepts the first message; start notify again; the notification once it is sent.

    No receipts (so none settles the row before the reconciliation) and no unit alerts (so the citizen's
    message is the only one that can reach the fail point); a row left 'sending' is reconciled after 2 s."""
    wait_until(lambda: not open_work(stack, timedelta(minutes=5)), 150, "notify to finish earlier tests' work")
    no_units = workdir / "no-unit-contacts.yaml"
    no_units.write_text("{}\n", encoding="utf-8")
    env = {"LIENTHONG_NOTIFY_SENDING_TIMEOUT_S": "2", "LIENTHONG_NOTIFY_UNIT_CONTACTS_FILE": str(no_units)}
    with receipts(stack, "none"), notify_with(stack, {**env, **FAILPOINT}):
        code = file_dossier(stack, phone=phone, email=email, channels=[channel])
        assert stack.wait_exit("notify", WAIT) == -signal.SIGKILL, "notify did not reach the fail point"
        restart_notify(stack, env)
        items = wait_notifications(stack, code, lambda i: has(i, channel, "sent"), f"the {channel} to be sent")
    assert len(items) == 1, items
    return items[0]


def test_a_crash_after_the_sms_operator_accepted_is_reconciled_not_resent(stack: DevStack, tmp_path: Path) -> None:
    phone = "0912000110"
    sms = crash_after_acceptance(stack, tmp_path, phone=phone, email="sap.sms@example.vn", channel="sms")

    held = sms_sent(stack, to=phone)
    assert [m["reference"] for m in held] == [sms["id"]], "the operator holds the SMS once"
    assert (sms["provider"], sms["provider_reference"]) == (held[0]["provider"], held[0]["message_id"])
    assert sms["attempts"] == 1
    assert statuses(sms) == ["created", "sending", "sent"]
    sending, sent = sms["history"][1], sms["history"][2]
    assert held[0]["message_id"] in sent["detail"] and "not resent" in sent["detail"], sent
    assert at(sent["at"]) - at(sending["at"]) >= timedelta(seconds=2), "recorded only after the sending timeout"


def test_a_crash_after_smtp_accepted_sends_the_email_again(stack: DevStack, tmp_path: Path) -> None:
    """SMTP cannot be asked whether it holds a letter (lookup answers 'unknown'), so a letter accepted just
    before the crash is sent again once the sending times out: email is at least once, and the citizen gets
    two copies carrying the same notification id and the same Message-ID, which mail systems fold into one.
    This documents that; SMS and Zalo never do it."""
    email = "sap.thu@example.vn"
    mail = crash_after_acceptance(stack, tmp_path, phone="0912000111", email=email, channel="email")

    assert statuses(mail) == ["created", "sending", "temporary-failure", "sending", "sent"]
    assert mail["history"][2]["detail"] == "sending timed out; provider: unknown"
    assert mail["attempts"] == 2
    letters = mail_to(stack, email, mail["id"])
    assert len(letters) == 2, letters
    assert mail_to(stack, email) == letters
    assert {m["headers"]["Message-ID"].strip() for m in letters} == {f"<{mail['id']}@lienthong.gov.vn>"}
    assert mail["provider_reference"] == letters[-1]["headers"]["Message-ID"].strip()


# ---- both SMS operators down --------------------------------------------------------------------------

ERRORS = "lienthong_notify_provider_errors_total"


def test_both_sms_operators_down_is_a_temporary_failure_tried_again_later(stack: DevStack) -> None:
    phone = "0912000112"
    errors_before = {p: metric(stack, "notify", ERRORS, provider=p, kind="transient") for p in ("sms-a", "sms-b")}
    with operator_failing(stack, "sms-a", "error"), operator_failing(stack, "sms-b", "error"):
        code = file_dossier(stack, phone=phone, channels=["sms"])
        sms = one(
            wait_notifications(stack, code, lambda i: has(i, "sms", "temporary-failure"), "the SMS to fail"), "sms"
        )
        failed = sms["history"][-1]
        assert statuses(sms) == ["created", "sending", "temporary-failure"]
        assert sms["attempts"] == 1
        assert at(sms["next_attempt_at"]) - at(failed["at"]) >= timedelta(seconds=50), sms["next_attempt_at"]
        assert at(sms["next_attempt_at"]) > datetime.now(UTC)
        assert all(s in failed["detail"] for s in ("sms-a", "sms-b", "503")), failed
        for provider, before in errors_before.items():
            assert metric(stack, "notify", ERRORS, provider=provider, kind="transient") > before, provider
        wait_until(
            lambda: metric(stack, "notify", "lienthong_notify_retry_backlog", channel="sms") >= 1,
            WAIT,
            "the retry backlog to count the SMS",
        )
        with client(stack, "notify") as admin:
            resend = f"/v1/notifications/{sms['id']}/resend"
            problem(admin.post(resend, json=REASON, headers={"Idempotency-Key": str(uuid.uuid4())}), 409)
        assert sms_sent(stack, to=phone) == []
    # Both operators answer again; the row is tried again when due (a minute later), not waited for here.
    modes = sandbox_get(stack, "/sandbox/failures")
    assert (modes["sms-a"]["mode"], modes["sms-b"]["mode"]) == ("ok", "ok")


# ---- quiet hours ----------------------------------------------------------------------------------------

LAST_MINUTE = time(23, 59)
QUIET_START, QUIET_END = "LIENTHONG_NOTIFY_QUIET_HOURS_START", "LIENTHONG_NOTIFY_QUIET_HOURS_END"


def test_a_retry_that_would_fall_in_quiet_hours_waits_for_their_end(stack: DevStack) -> None:
    """Quiet hours begin 70-130 s from now and last five minutes; the SMS is created 50 s before they begin,
    both operators fail, and the retry a minute later would be inside them: it is held until they end."""
    start = (datetime.now(VN_TZ) + timedelta(seconds=70)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = start + timedelta(minutes=5)
    phone = "0912000115"
    with notify_with(stack, {QUIET_START: start.strftime("%H:%M"), QUIET_END: end.strftime("%H:%M")}):
        wait_until(lambda: datetime.now(VN_TZ) >= start - timedelta(seconds=50), 200, "50 s before quiet hours", 0.5)
        with operator_failing(stack, "sms-a", "error"), operator_failing(stack, "sms-b", "error"):
            code = file_dossier(stack, phone=phone, channels=["sms"])
            sms = one(
                wait_notifications(stack, code, lambda i: has(i, "sms", "temporary-failure"), "the SMS to fail"), "sms"
            )

    failed = sms["history"][-1]
    assert at(sms["created_at"]) < start, "created before quiet hours: not held at creation"
    assert statuses(sms) == ["created", "sending", "temporary-failure"]
    assert at(failed["at"]) + timedelta(minutes=1) >= start, "the retry's first due time is inside quiet hours"
    assert at(sms["next_attempt_at"]) == end, (sms["next_attempt_at"], end)
    assert "quiet hours" in failed["detail"], failed
    assert sms_sent(stack, to=phone) == []


def test_quiet_hours_hold_the_sms_and_let_the_email_go(stack: DevStack) -> None:
    """Quiet from 00:00 to 23:59 (Vietnam time): nearly always quiet. The one minute outside it is skipped."""
    if datetime.now(VN_TZ).time() >= LAST_MINUTE:
        pytest.skip("23:59 Vietnam time is outside these quiet hours")
    phone, email = "0912000114", "dem.khuya@example.vn"
    quiet = {"LIENTHONG_NOTIFY_QUIET_HOURS_START": "00:00", "LIENTHONG_NOTIFY_QUIET_HOURS_END": "23:59"}
    with notify_with(stack, quiet):
        code = file_dossier(stack, phone=phone, email=email)
        items = wait_notifications(stack, code, lambda i: has(i, "email", "sent") and has(i, "sms", "created"), "mail")
        # The unit's alert comes later and goes at once (email): the SMS has had time to go, were it due.
        wait_notifications(stack, code, lambda i: has(i, "email", "sent"), "the unit's alert", audience="unit")
        sms = one(notifications(stack, code), "sms")

    created = at(sms["created_at"]).astimezone(VN_TZ)
    if created.time() >= LAST_MINUTE:
        pytest.skip("the SMS was created at 23:59 Vietnam time, outside these quiet hours")
    assert (sms["status"], sms["attempts"]) == ("created", 0)
    assert at(sms["next_attempt_at"]).astimezone(VN_TZ) == created.replace(hour=23, minute=59, second=0, microsecond=0)
    assert statuses(sms) == ["created"] and "quiet hours" in sms["history"][0]["detail"]
    assert sms_sent(stack, to=phone) == []
    mail = one(items, "email")
    assert mail["next_attempt_at"] is not None and at(mail["next_attempt_at"]) <= at(mail["created_at"])
    assert len(mail_to(stack, email, mail["id"])) == 1
