"""The real provider clients against the real sandbox gateways over real HTTP and SMTP: failover between the
two SMS operators, reconciling a crash after acceptance, signed receipts (replayed, forged), Zalo ZNS, the
postal operator and its webhooks. A small receiver app stands in for notify and verifies every signature."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.devstack import free_port
from services.notify.domain import Channel
from services.notify.providers import (
    FailoverProvider,
    HttpSmsProvider,
    LookupOutcome,
    OutgoingMessage,
    PostalClient,
    PostalOrderRequest,
    ProviderError,
    SmtpEmailProvider,
    ZaloZnsProvider,
)
from services.notify.sandbox.gateway import create_gateway_app
from services.notify.sandbox.smtp import start_smtp
from shared.web.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

T = TypeVar("T")
HOST = "127.0.0.1"
SECRETS = {"sms-a": "test-a", "sms-b": "test-b", "zalo": "test-zalo", "postal": "test-postal"}


@dataclass
class Receiver:
    """Notify's webhook endpoints, reduced to recording and verifying."""

    received: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    """reference → how many of its webhooks to answer 503 (after checking the signature)."""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/{path:path}")
        async def webhook(path: str, request: Request) -> JSONResponse:
            raw = await request.body()
            kind, _, provider = path.partition("/")
            secret = SECRETS["postal" if kind == "postal" else provider]
            record: dict[str, Any] = {"path": path, "kind": kind, "provider": provider, "body": json.loads(raw)}
            self.received.append(record)
            try:
                verify(
                    secret,
                    request.headers.get(TIMESTAMP_HEADER),
                    request.headers.get(SIGNATURE_HEADER),
                    raw,
                    now=time.time(),
                )
            except SignatureError as exc:
                record["answered"] = 401
                return JSONResponse({"error": str(exc)}, status_code=401)
            reference = record["body"].get("reference")
            if self.fail.get(reference):
                self.fail[reference] -= 1
                record["answered"] = 503
                return JSONResponse({"error": "busy"}, status_code=503)
            record["answered"] = 200
            return JSONResponse({"ok": True})

        return app

    def matching(self, **where: Any) -> list[dict[str, Any]]:
        return [r for r in self.received if all(r["body"].get(k) == v for k, v in where.items())]


@dataclass
class Stack:
    url: str
    smtp_port: int
    receiver: Receiver
    http: httpx.AsyncClient

    def sms(self, name: str = "sms-a", timeout: float = 5) -> HttpSmsProvider:
        path = "/sms" if name == "sms-a" else "/sms-b"
        return HttpSmsProvider(name, self.url + path, "sandbox", "UBND SONHA", timeout=timeout)

    async def fail(self, provider: str, mode: str, **more: Any) -> None:
        answer = await self.http.post(f"/sandbox/{provider}/failure", json={"mode": mode, **more})
        assert answer.status_code == 200, answer.text


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handling alone
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    server = _Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), what="the server to start")
    assert server.started, "the server did not start"
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def poll(check: Callable[[], Awaitable[T]], timeout: float = 10, what: str = "it") -> T:
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return result


async def eventually(check: Callable[[], T], timeout: float = 10, what: str = "it") -> T:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return result


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    receiver = Receiver()
    http_port, receiver_port, smtp_port = free_port(), free_port(), free_port()
    controller, mailbox = start_smtp(HOST, smtp_port)
    gateway = create_gateway_app(
        mailbox, callback_base_url=f"http://{HOST}:{receiver_port}", secrets=SECRETS, receipt_delay_s=0.05
    )
    try:
        async with serving(receiver.app(), receiver_port), serving(gateway, http_port):
            url = f"http://{HOST}:{http_port}"
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                yield Stack(url, smtp_port, receiver, http)
    finally:
        controller.stop()


def sms_message(recipient: str = "0912345678") -> OutgoingMessage:
    return OutgoingMessage(id=str(uuid.uuid4()), channel=Channel.SMS, recipient=recipient, subject=None, body="Hồ sơ")


async def test_sms_fails_over_to_operator_b_when_a_is_down(stack: Stack) -> None:
    a, b = stack.sms("sms-a"), stack.sms("sms-b")
    provider = FailoverProvider([a, b], slow_after_s=5, cooldown_s=30)
    await stack.fail("sms-a", "error", count=1)
    message = sms_message()
    accepted = await provider.send(message)
    assert accepted.provider == "sms-b"
    assert (await stack.http.get("/sms/messages", params={"reference": message.id})).json() == []
    [held] = (await stack.http.get("/sms-b/messages", params={"reference": message.id})).json()
    assert held["message_id"] == accepted.reference
    [both] = (await stack.http.get("/sandbox/sms/all", params={"reference": message.id})).json()
    assert both["provider"] == "sms-b"
    [receipt] = await eventually(lambda: stack.receiver.matching(reference=message.id), what="sms-b's receipt")
    assert (receipt["path"], receipt["answered"], receipt["body"]["status"]) == ("receipts/sms-b", 200, "delivered")
    assert (await provider.lookup(message.id)).provider == "sms-b"
    await provider.close()


async def test_a_slow_operator_is_left_for_the_other_and_may_send_it_too(stack: Stack) -> None:
    provider = FailoverProvider([stack.sms("sms-a"), stack.sms("sms-b")], slow_after_s=0.3, cooldown_s=30)
    await stack.fail("sms-a", "slow", count=1, delay_s=0.6)
    message = sms_message()
    assert (await provider.send(message)).provider == "sms-b"

    # the at-most-twice edge: operator A took it after all, under the same reference
    async def both() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            await stack.http.get("/sandbox/sms/all", params={"reference": message.id})
        ).json()
        return found if len(found) == 2 else []

    assert {m["provider"] for m in await poll(both, what="operator A to finish")} == {"sms-a", "sms-b"}
    await provider.close()


async def test_accepted_then_dropped_is_found_by_lookup_and_not_sent_twice(stack: Stack) -> None:
    sms = stack.sms("sms-a")
    await stack.fail("sms-a", "accept_then_drop", count=1)
    message = sms_message()
    with pytest.raises(ProviderError) as caught:
        await sms.send(message)
    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)
    found = await sms.lookup(message.id)
    assert found.outcome is LookupOutcome.FOUND
    again = await sms.send(message)  # a blind resend is caught by the reference: 409, the same message id
    assert again.reference == found.reference
    assert len((await stack.http.get("/sms/messages", params={"reference": message.id})).json()) == 1
    assert (await sms.lookup(str(uuid.uuid4()))).outcome is LookupOutcome.NOT_FOUND
    await sms.close()


async def test_an_operator_that_never_answers_times_out_ambiguously(stack: Stack) -> None:
    sms = stack.sms("sms-a", timeout=0.3)
    await stack.fail("sms-a", "timeout", count=1)
    with pytest.raises(ProviderError, match="timed out") as caught:
        await sms.send(sms_message())
    assert (caught.value.permanent, caught.value.ambiguous) == (False, True)
    await sms.close()


async def sent_via_a(stack: Stack, message: OutgoingMessage | None = None) -> OutgoingMessage:
    sms = stack.sms("sms-a")
    message = message or sms_message()
    await sms.send(message)
    await sms.close()
    return message


async def test_receipts_arrive_signed_and_a_replay_repeats_the_receipt_id(stack: Stack) -> None:
    message = await sent_via_a(stack)
    [receipt] = await eventually(lambda: stack.receiver.matching(reference=message.id), what="the receipt")
    body = receipt["body"]
    assert (receipt["path"], receipt["answered"]) == ("receipts/sms-a", 200)
    assert set(body) == {"receipt_id", "reference", "message_id", "status", "error", "at"}
    assert (body["status"], body["error"]) == ("delivered", None)
    [sent] = (await stack.http.get("/sandbox/receipts", params={"reference": message.id})).json()
    assert sent["delivered"] and [a["status"] for a in sent["attempts"]] == [200]

    replayed = (await stack.http.post("/sandbox/receipts/replay", json={"receipt_id": body["receipt_id"]})).json()
    assert replayed["replay"] and replayed["attempts"][0]["status"] == 200
    twice = stack.receiver.matching(receipt_id=body["receipt_id"])
    assert [r["body"] for r in twice] == [body, body]


@pytest.mark.parametrize("signing", ["none", "wrong", "stale"])
async def test_a_forged_receipt_is_refused_by_the_verifier(stack: Stack, signing: str) -> None:
    reference = str(uuid.uuid4())
    forged = await stack.http.post(
        "/sandbox/receipts/forge", json={"provider": "sms-b", "reference": reference, "signing": signing}
    )
    assert forged.json()["attempts"][0]["status"] == 401
    [seen] = stack.receiver.matching(reference=reference)
    assert seen["answered"] == 401


async def test_a_receipt_is_retried_until_it_is_taken(stack: Stack) -> None:
    message = sms_message()
    stack.receiver.fail[message.id] = 2
    await sent_via_a(stack, message)

    async def delivered() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            await stack.http.get("/sandbox/receipts", params={"reference": message.id})
        ).json()
        return [r for r in found if r["delivered"]]

    [receipt] = await poll(delivered, what="the third attempt")
    assert [a["status"] for a in receipt["attempts"]] == [503, 503, 200]


async def test_failed_receipts_and_no_receipts(stack: Stack) -> None:
    try:
        await stack.http.post("/sandbox/receipts", json={"mode": "fail", "error": "máy bận"})
        failed = await sent_via_a(stack)
        [receipt] = await eventually(lambda: stack.receiver.matching(reference=failed.id), what="a failed receipt")
        assert (receipt["body"]["status"], receipt["body"]["error"]) == ("failed", "máy bận")
        await stack.http.post("/sandbox/receipts", json={"mode": "none"})
        silent = await sent_via_a(stack)
        assert (await stack.http.get("/sandbox/receipts", params={"reference": silent.id})).json() == []
    finally:
        await stack.http.post("/sandbox/receipts", json={"mode": "deliver"})


async def test_an_inbound_sms_is_forwarded_signed(stack: Stack) -> None:
    answer = await stack.http.post(
        "/sandbox/sms/inbound", json={"from": "0912345678", "text": "TC", "provider": "sms-b"}
    )
    assert answer.json()["attempts"][0]["status"] == 200
    [inbound] = [r for r in stack.receiver.received if r["path"] == "inbound-sms/sms-b"]
    assert (inbound["answered"], inbound["body"]["from"], inbound["body"]["text"]) == (200, "0912345678", "TC")
    assert set(inbound["body"]) == {"from", "text", "received_at", "message_id"}


# ---- Zalo ZNS -------------------------------------------------------------------------------------------


def zns_message(recipient: str) -> OutgoingMessage:
    return OutgoingMessage(
        id=str(uuid.uuid4()),
        channel=Channel.ZALO,
        recipient=recipient,
        subject=None,
        body="",
        zalo_template_id="231077",
        zalo_params={"ma_ho_so": "H56.101-261122-0001"},
    )


async def test_zalo_sends_looks_up_and_refuses_a_phone_without_zalo(stack: Stack) -> None:
    zalo = ZaloZnsProvider("zalo", stack.url + "/zalo", "sandbox")
    message = zns_message("0912 345 678")
    accepted = await zalo.send(message)
    [held] = (await stack.http.get("/zalo/messages", params={"tracking_id": message.id})).json()
    assert (held["phone"], held["msg_id"], held["template_data"]) == (
        "84912345678",
        accepted.reference,
        {"ma_ho_so": "H56.101-261122-0001"},
    )
    assert (await zalo.send(message)).reference == accepted.reference, "a known tracking_id: the same msg_id"
    assert (await zalo.lookup(message.id)).reference == accepted.reference
    assert (await zalo.lookup(str(uuid.uuid4()))).outcome is LookupOutcome.NOT_FOUND
    [receipt] = await eventually(lambda: stack.receiver.matching(reference=message.id), what="the ZNS receipt")
    assert (receipt["path"], receipt["answered"]) == ("receipts/zalo", 200)

    await stack.http.post("/sandbox/zalo/no-account", json={"phone": "0987 654 321"})
    with pytest.raises(ProviderError, match="-118") as caught:
        await zalo.send(zns_message("0987654321"))
    assert caught.value.permanent
    await zalo.close()

    wrong = ZaloZnsProvider("zalo", stack.url + "/zalo", "not-the-token")
    with pytest.raises(ProviderError, match="-124") as caught:
        await wrong.send(zns_message("0912345678"))
    assert not caught.value.permanent
    await wrong.close()


# ---- postal ---------------------------------------------------------------------------------------------


def order(kind: str = "delivery") -> PostalOrderRequest:
    return PostalOrderRequest(
        order_id=str(uuid.uuid4()),
        kind=kind,  # type: ignore[arg-type]
        dossier_code="H56.101-261122-0001",
        name="Nguyễn Văn An",
        phone="0912345678",
        address="12 Lê Lợi, phường Sơn Hà",
    )


async def test_a_postal_order_is_idempotent_and_its_progress_is_reported_signed(stack: Stack) -> None:
    postal = PostalClient(stack.url + "/postal", "sandbox")
    request = order()
    created = await postal.create_order(request)
    assert re.fullmatch(r"EL\d{9}VN", created.tracking_number)
    assert await postal.create_order(request) == created
    assert await postal.get_order(request.order_id) == created
    assert await postal.get_order(str(uuid.uuid4())) is None

    advanced = await stack.http.post(
        f"/sandbox/postal/orders/{created.tracking_number}/advance", json={"status": "delivered", "note": "đã phát"}
    )
    webhook = advanced.json()["webhook"]
    assert (webhook["attempts"][0]["status"], webhook["attempts"][0]["answer"]) == (200, {"ok": True})
    [seen] = stack.receiver.matching(tracking_number=created.tracking_number)
    assert (seen["path"], seen["answered"]) == ("postal/webhooks", 200)
    assert (seen["body"]["order_id"], seen["body"]["status"], seen["body"]["note"]) == (
        request.order_id,
        "delivered",
        "đã phát",
    )
    assert set(seen["body"]) == {"event_id", "tracking_number", "order_id", "status", "at", "note"}
    assert (await postal.get_order(request.order_id)) == created.__class__(
        created.order_id, created.tracking_number, "delivered"
    )

    await stack.fail("postal", "error", count=1)
    with pytest.raises(ProviderError) as caught:
        await postal.create_order(order())
    assert not caught.value.permanent
    await postal.close()


async def test_the_postal_operator_can_advance_orders_by_itself(stack: Stack) -> None:
    postal = PostalClient(stack.url + "/postal", "sandbox")
    await stack.http.post("/sandbox/postal/auto", json={"enabled": True, "delay_s": 0.05})
    try:
        created = await postal.create_order(order("pickup"))
    finally:
        await stack.http.post("/sandbox/postal/auto", json={"enabled": False})
    [seen] = await eventually(lambda: stack.receiver.matching(tracking_number=created.tracking_number))
    assert (seen["body"]["status"], seen["answered"]) == ("picked_up", 200)
    await postal.close()


# ---- email ----------------------------------------------------------------------------------------------


async def test_an_html_email_reaches_the_mailbox_with_its_vietnamese_subject(stack: Stack) -> None:
    provider = SmtpEmailProvider(HOST, stack.smtp_port, "Bộ phận Một cửa phường Sơn Hà <motcua@lienthong.gov.vn>")
    recipient = f"{uuid.uuid4().hex[:8]}@example.vn"
    subject = "Hồ sơ H56.101-261122-0001 đã được tiếp nhận, hẹn trả kết quả ngày 26/11/2026 tại Bộ phận Một cửa"
    message = OutgoingMessage(
        id=str(uuid.uuid4()),
        channel=Channel.EMAIL,
        recipient=recipient,
        subject=subject,
        body="Kính gửi Ông/Bà Nguyễn Văn An,",
        html="<p>Kính gửi <b>Ông/Bà Nguyễn Văn An</b>,</p>",
    )
    accepted = await provider.send(message)

    async def arrived() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await stack.http.get("/email/messages", params={"to": recipient})).json()
        return found

    [mail] = await poll(arrived, what="the email")
    assert mail["subject"] == subject
    assert mail["body"].strip() == "Kính gửi Ông/Bà Nguyễn Văn An,"
    assert "<b>Ông/Bà Nguyễn Văn An</b>" in mail["html"]
    assert mail["headers"]["Message-ID"].strip() == accepted.reference
    assert mail["headers"]["X-Lienthong-Notification-Id"] == message.id


async def test_one_smtp_connection_carries_letter_after_letter_and_a_stale_one_is_replaced(stack: Stack) -> None:
    sender = "motcua@lienthong.gov.vn"
    recipient = f"{uuid.uuid4().hex[:8]}@example.vn"

    def letter(n: int) -> OutgoingMessage:
        return OutgoingMessage(
            id=str(uuid.uuid4()), channel=Channel.EMAIL, recipient=recipient, subject=f"Thư {n}", body="Kính gửi"
        )

    async def arrived(count: int) -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = (await stack.http.get("/email/messages", params={"to": recipient})).json()
        return found if len(found) == count else None

    kept = SmtpEmailProvider(HOST, stack.smtp_port, sender, keep_s=300)
    for n in range(3):
        await kept.send(letter(n))
    await poll(lambda: arrived(3), what="three letters")
    assert kept.connections_opened == 1
    await kept.close()

    not_kept = SmtpEmailProvider(HOST, stack.smtp_port, sender, keep_s=0)
    for n in range(3, 5):
        await not_kept.send(letter(n))
    await poll(lambda: arrived(5), what="two more letters")
    assert not_kept.connections_opened == 2, "an idle connection older than keep_s is not reused"
    await not_kept.close()


async def test_the_old_failure_route_is_operator_a_and_unknown_operators_are_refused(stack: Stack) -> None:
    await stack.fail("sms", "reject", count=1)
    assert (await stack.http.get("/sandbox/failures")).json()["sms-a"]["mode"] == "reject"
    sms = stack.sms("sms-a")
    with pytest.raises(ProviderError, match="HTTP 400") as caught:
        await sms.send(sms_message())
    assert caught.value.permanent
    await sms.close()
    assert (await stack.http.post("/sandbox/sms-c/failure", json={"mode": "error"})).status_code == 404
