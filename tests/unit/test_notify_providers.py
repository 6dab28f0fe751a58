"""The provider clients against ``httpx.MockTransport`` (the edge of the world), and the failover and
throttle wrappers against hand-written fake providers with an injected clock."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiosmtplib.email import flatten_message
from prometheus_client import REGISTRY

from services.devstack import free_port
from services.notify.domain import Channel
from services.notify.providers import (
    Accepted,
    FailoverProvider,
    HttpSmsProvider,
    Lookup,
    LookupOutcome,
    OutgoingMessage,
    PostalClient,
    PostalOrderRequest,
    ProviderError,
    SmtpEmailProvider,
    Throttled,
    ZaloZnsProvider,
    build_email,
    normalise_phone,
)

Handler = Callable[[httpx.Request], httpx.Response]

SMS = OutgoingMessage(
    id="n-1", channel=Channel.SMS, recipient="0912345678", subject=None, body="Hồ sơ H56.101-261122-0001 đã nhận"
)
ZNS = OutgoingMessage(
    id="n-2",
    channel=Channel.ZALO,
    recipient="0912 345.678",
    subject=None,
    body="",
    zalo_template_id="231077",
    zalo_params={"ma_ho_so": "H56.101-261122-0001", "ngay_hen": "26/11/2026"},
)


def sms_provider(handler: Handler, name: str = "sms-a") -> HttpSmsProvider:
    return HttpSmsProvider(name, "http://operator/api/", "tok", "UBND", transport=httpx.MockTransport(handler))


def zalo_provider(handler: Handler) -> ZaloZnsProvider:
    return ZaloZnsProvider("zalo", "http://zalo", "zalo-token", transport=httpx.MockTransport(handler))


def raising(exc_type: type[httpx.HTTPError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)  # type: ignore[call-arg]

    return handler


# ---- SMS ------------------------------------------------------------------------------------------------


async def test_sms_accepted_sends_reference_text_and_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"message_id": "m-1"})

    accepted = await sms_provider(handler).send(SMS)
    assert accepted == Accepted(reference="m-1", provider="sms-a")
    assert seen[0].url == "http://operator/api/messages"
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert json.loads(seen[0].content) == {
        "reference": "n-1",
        "to": "0912345678",
        "text": SMS.body,
        "brandname": "UBND",
    }


async def test_sms_duplicate_reference_counts_as_the_earlier_acceptance() -> None:
    provider = sms_provider(lambda r: httpx.Response(409, json={"message_id": "m-0", "duplicate": True}))
    assert await provider.send(SMS) == Accepted(reference="m-0", provider="sms-a")


@pytest.mark.parametrize(
    ("handler", "permanent", "ambiguous"),
    [
        (lambda r: httpx.Response(429, json={"error": "slow down"}), False, False),
        (lambda r: httpx.Response(503, json={"error": "down"}), False, False),
        (lambda r: httpx.Response(500, text="oops"), False, False),
        (lambda r: httpx.Response(400, json={"error": "subscriber unknown"}), True, False),
        (
            lambda r: httpx.Response(401, json={"error": "bad token"}),
            False,
            False,
        ),  # our token: transient, trips the failover
        (raising(httpx.ReadTimeout), False, True),
        (raising(httpx.ConnectError), False, False),
        (raising(httpx.ConnectTimeout), False, False),
        (raising(httpx.RemoteProtocolError), False, True),
        (lambda r: httpx.Response(202, text="not json"), False, True),
    ],
    ids=["429", "503", "500", "400", "401", "read-timeout", "connect", "connect-timeout", "dropped", "garbled"],
)
async def test_sms_failures_are_classified(handler: Handler, permanent: bool, ambiguous: bool) -> None:
    with pytest.raises(ProviderError) as caught:
        await sms_provider(handler).send(SMS)
    assert (caught.value.permanent, caught.value.ambiguous, caught.value.provider) == (permanent, ambiguous, "sms-a")


async def test_every_send_is_measured_by_provider_and_kind() -> None:
    labels = {"provider": "sms-metrics", "channel": "sms", "kind": "transient"}
    before = REGISTRY.get_sample_value("lienthong_notify_provider_errors_total", labels) or 0.0
    with pytest.raises(ProviderError):
        await sms_provider(lambda r: httpx.Response(503), name="sms-metrics").send(SMS)
    assert REGISTRY.get_sample_value("lienthong_notify_provider_errors_total", labels) == before + 1
    timing = {"provider": "sms-metrics", "channel": "sms", "outcome": "transient"}
    assert REGISTRY.get_sample_value("lienthong_notify_provider_seconds_count", timing) == before + 1


@pytest.mark.parametrize(
    ("handler", "outcome", "reference"),
    [
        (lambda r: httpx.Response(200, json={"message_id": "m-7", "reference": "n-1"}), LookupOutcome.FOUND, "m-7"),
        (lambda r: httpx.Response(404, json={"detail": "no"}), LookupOutcome.NOT_FOUND, None),
        (lambda r: httpx.Response(503), LookupOutcome.UNKNOWN, None),
        (raising(httpx.ConnectError), LookupOutcome.UNKNOWN, None),
    ],
    ids=["found", "not-found", "5xx", "unreachable"],
)
async def test_sms_lookup(handler: Handler, outcome: LookupOutcome, reference: str | None) -> None:
    paths: list[str] = []

    def recording(request: httpx.Request) -> Any:
        paths.append(request.url.path)
        return handler(request)

    assert await sms_provider(recording).lookup("n-1") == Lookup(outcome, reference, "sms-a")
    assert paths == ["/api/messages/n-1"]


# ---- Zalo ZNS -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["0912345678", "0912 345 678", "0912.345.678", "+84 912 345 678", "84912345678", "(+84) 912-345-678"]
)
def test_vietnamese_mobile_numbers_are_normalised(raw: str) -> None:
    assert normalise_phone(raw) == "84912345678"


@pytest.mark.parametrize("raw", ["12345", "0241234567", "091234567a", "+1 415 555 0100", ""])
def test_what_is_not_a_vietnamese_mobile_number_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not a Vietnamese mobile number"):
        normalise_phone(raw)


async def test_zns_accepted_with_normalised_phone_template_and_tracking_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"error": 0, "message": "Success", "data": {"msg_id": "z-1"}})

    assert await zalo_provider(handler).send(ZNS) == Accepted(reference="z-1", provider="zalo")
    assert seen[0].url.path == "/message/template"
    assert seen[0].headers["access_token"] == "zalo-token"
    assert json.loads(seen[0].content) == {
        "phone": "84912345678",
        "template_id": "231077",
        "template_data": {"ma_ho_so": "H56.101-261122-0001", "ngay_hen": "26/11/2026"},
        "tracking_id": "n-2",
    }


@pytest.mark.parametrize(
    ("code", "permanent"),
    [(-1, False), (-100, False), (-124, False), (-144, False), (-108, True), (-118, True), (-109, True), (-139, True)],
)
async def test_zns_error_codes_are_classified(code: int, permanent: bool) -> None:
    provider = zalo_provider(lambda r: httpx.Response(200, json={"error": code, "message": "…"}))
    with pytest.raises(ProviderError, match=f"ZNS error {code}") as caught:
        await provider.send(ZNS)
    assert caught.value.permanent is permanent


async def test_zns_http_errors_and_bad_input() -> None:
    with pytest.raises(ProviderError) as caught:
        await zalo_provider(lambda r: httpx.Response(502)).send(ZNS)
    assert not caught.value.permanent

    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing should be sent")

    for bad in (
        OutgoingMessage(id="n", channel=Channel.ZALO, recipient="0912345678", subject=None, body="x"),
        OutgoingMessage(id="n", channel=Channel.ZALO, recipient="12", subject=None, body="x", zalo_template_id="1"),
    ):
        with pytest.raises(ProviderError) as caught:
            await zalo_provider(never).send(bad)
        assert caught.value.permanent


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"error": 0, "data": {"msg_id": "z-9", "tracking_id": "n-2"}}, LookupOutcome.FOUND),
        ({"error": -107, "message": "Message ID is invalid"}, LookupOutcome.NOT_FOUND),
        ({"error": -124, "message": "Access token is invalid"}, LookupOutcome.UNKNOWN),
    ],
)
async def test_zns_lookup(answer: dict[str, Any], outcome: LookupOutcome) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["tracking_id"] == "n-2"
        return httpx.Response(200, json=answer)

    assert (await zalo_provider(handler).lookup("n-2")).outcome is outcome


# ---- postal ---------------------------------------------------------------------------------------------

ORDER = PostalOrderRequest(
    order_id="o-1",
    kind="delivery",
    dossier_code="H56.101-261122-0001",
    name="Nguyễn Văn An",
    phone="0912345678",
    address="12 Lê Lợi, phường Sơn Hà",
)


async def test_postal_order_replay_returns_the_same_tracking_number() -> None:
    orders: dict[str, dict[str, str]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        assert request.headers["Authorization"] == "Bearer tok"
        if key in orders:
            return httpx.Response(200, json=orders[key])
        body = json.loads(request.content)
        orders[key] = {"order_id": body["order_id"], "tracking_number": f"EL{len(orders):09d}VN", "status": "created"}
        return httpx.Response(201, json=orders[key])

    client = PostalClient("http://post", "tok", transport=httpx.MockTransport(handler))
    first = await client.create_order(ORDER)
    again = await client.create_order(ORDER)
    assert first == again
    assert (first.order_id, first.tracking_number, first.status) == ("o-1", "EL000000000VN", "created")
    assert list(orders) == ["o-1"]


@pytest.mark.parametrize(("status", "permanent"), [(503, False), (429, False), (422, True), (409, True)])
async def test_postal_failures(status: int, permanent: bool) -> None:
    client = PostalClient("http://post", "tok", transport=httpx.MockTransport(lambda r: httpx.Response(status)))
    with pytest.raises(ProviderError) as caught:
        await client.create_order(ORDER)
    assert caught.value.permanent is permanent


async def test_postal_get_order() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/orders/o-1":
            return httpx.Response(200, json={"order_id": "o-1", "tracking_number": "EL1VN", "status": "delivered"})
        return httpx.Response(404)

    client = PostalClient("http://post", "tok", transport=httpx.MockTransport(handler))
    found = await client.get_order("o-1")
    assert found is not None and found.status == "delivered"
    assert await client.get_order("o-2") is None


# ---- failover -------------------------------------------------------------------------------------------


class FakeSms:
    """A provider that does what the test tells it: ok, transient, permanent, or hang until released."""

    channel = Channel.SMS

    def __init__(self, name: str, lookup: LookupOutcome = LookupOutcome.NOT_FOUND) -> None:
        self.name = name
        self.behaviour = "ok"
        self.calls = 0
        self.cancelled = 0
        self.release = asyncio.Event()
        self.hanging = asyncio.Event()
        self.lookup_outcome = lookup

    async def send(self, message: OutgoingMessage) -> Accepted:
        self.calls += 1
        if self.behaviour in ("transient", "permanent"):
            raise ProviderError(self.behaviour, permanent=self.behaviour == "permanent", provider=self.name)
        if self.behaviour == "hang":
            self.hanging.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return Accepted(reference=f"{self.name}:{message.id}", provider=self.name)

    async def lookup(self, notification_id: str) -> Lookup:
        if self.lookup_outcome is LookupOutcome.UNKNOWN:
            raise RuntimeError("a lookup that blows up counts as unknown")
        ref = f"{self.name}:{notification_id}" if self.lookup_outcome is LookupOutcome.FOUND else None
        return Lookup(self.lookup_outcome, ref, self.name)

    async def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def failover(*providers: FakeSms, clock: Clock | None = None, slow: float = 5.0) -> FailoverProvider:
    return FailoverProvider(
        list(providers), slow_after_s=slow, cooldown_s=30, failures_to_trip=2, monotonic=clock or Clock()
    )


async def test_a_transient_failure_goes_to_the_next_provider() -> None:
    a, b = FakeSms("sms-a"), FakeSms("sms-b")
    a.behaviour = "transient"
    assert await failover(a, b).send(SMS) == Accepted("sms-b:n-1", "sms-b")
    assert (a.calls, b.calls) == (1, 1)


async def test_a_permanent_failure_is_not_failed_over() -> None:
    a, b = FakeSms("sms-a"), FakeSms("sms-b")
    a.behaviour = "permanent"
    with pytest.raises(ProviderError) as caught:
        await failover(a, b).send(SMS)
    assert caught.value.permanent and caught.value.provider == "sms-a"
    assert b.calls == 0


async def test_a_slow_provider_is_cancelled_and_the_next_one_tried() -> None:
    a, b = FakeSms("sms-a"), FakeSms("sms-b")
    a.behaviour = "hang"
    provider = failover(a, b, slow=0.05)
    assert (await provider.send(SMS)).provider == "sms-b"
    assert a.cancelled == 1
    assert provider.status()[0]["last_error"].startswith("sms-a: slower than 0.05s")


async def test_every_provider_failing_is_one_transient_error() -> None:
    a, b = FakeSms("sms-a"), FakeSms("sms-b")
    a.behaviour = b.behaviour = "transient"
    with pytest.raises(ProviderError, match="sms-a: transient; sms-b: transient") as caught:
        await failover(a, b).send(SMS)
    assert not caught.value.permanent


async def test_a_provider_failing_repeatedly_is_skipped_until_its_cooldown_ends() -> None:
    clock = Clock()
    a, b = FakeSms("sms-a"), FakeSms("sms-b")
    provider = failover(a, b, clock=clock)
    a.behaviour = "transient"
    for _ in range(2):
        assert (await provider.send(SMS)).provider == "sms-b"
    assert provider.status()[0] | {"last_error": None} == {
        "provider": "sms-a",
        "state": "open",
        "consecutive_failures": 2,
        "cooldown_left_s": 30.0,
        "accepted": 0,
        "failed": 2,
        "last_error": None,
    }
    await provider.send(SMS)
    assert a.calls == 2, "an open provider is not tried"

    clock.now += 31  # half-open: one trial, which fails and opens it again
    await provider.send(SMS)
    assert a.calls == 3
    assert provider.status()[0]["state"] == "open"
    await provider.send(SMS)
    assert a.calls == 3

    clock.now += 31  # half-open again: the trial succeeds and closes it
    a.behaviour = "ok"
    assert (await provider.send(SMS)).provider == "sms-a"
    assert provider.status()[0]["state"] == "closed"
    assert provider.status()[1]["accepted"] == 5


async def test_half_open_lets_one_trial_through_at_a_time() -> None:
    clock = Clock()
    a, b = FakeSms("sms-a"), FakeSms("sms-b")
    provider = failover(a, b, clock=clock)
    a.behaviour = "transient"
    for _ in range(2):
        await provider.send(SMS)
    clock.now += 31
    a.behaviour = "hang"
    trial = asyncio.create_task(provider.send(SMS))
    await a.hanging.wait()
    assert (await provider.send(SMS)).provider == "sms-b", "a second send does not join the trial"
    a.release.set()
    assert (await trial).provider == "sms-a"


async def test_every_provider_open_fails_at_once() -> None:
    a = FakeSms("sms-a")
    a.behaviour = "transient"
    provider = failover(a)
    for _ in range(2):
        with pytest.raises(ProviderError):
            await provider.send(SMS)
    with pytest.raises(ProviderError, match="cooling down"):
        await provider.send(SMS)
    assert a.calls == 2


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ((LookupOutcome.NOT_FOUND, LookupOutcome.FOUND), Lookup(LookupOutcome.FOUND, "sms-b:n-1", "sms-b")),
        ((LookupOutcome.FOUND, LookupOutcome.FOUND), Lookup(LookupOutcome.FOUND, "sms-a:n-1", "sms-a")),
        ((LookupOutcome.UNKNOWN, LookupOutcome.FOUND), Lookup(LookupOutcome.FOUND, "sms-b:n-1", "sms-b")),
        ((LookupOutcome.NOT_FOUND, LookupOutcome.NOT_FOUND), Lookup(LookupOutcome.NOT_FOUND, None, "sms-a+sms-b")),
        ((LookupOutcome.UNKNOWN, LookupOutcome.NOT_FOUND), Lookup(LookupOutcome.UNKNOWN, None, "sms-a+sms-b")),
    ],
)
async def test_lookup_asks_every_provider(outcomes: tuple[LookupOutcome, LookupOutcome], expected: Lookup) -> None:
    a, b = FakeSms("sms-a", outcomes[0]), FakeSms("sms-b", outcomes[1])
    assert await failover(a, b).lookup("n-1") == expected


# ---- throttle -------------------------------------------------------------------------------------------


class Counting(FakeSms):
    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__("sms-a")
        self.in_flight = self.most = 0
        self.times: list[float] = []
        self.clock = clock

    async def send(self, message: OutgoingMessage) -> Accepted:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.clock is not None:
            self.times.append(self.clock.now)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        return await super().send(message)


async def test_throttle_never_exceeds_its_concurrency() -> None:
    inner = Counting()
    throttled = Throttled(inner, concurrency=3, rate_per_s=10_000, burst=10_000)
    await asyncio.gather(*(throttled.send(SMS) for _ in range(20)))
    assert (inner.most, inner.calls) == (3, 20)


async def test_throttle_waits_for_tokens_at_the_rate() -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    inner = Counting(clock)
    throttled = Throttled(inner, concurrency=10, rate_per_s=2, burst=2, monotonic=clock, sleep=sleep)
    await asyncio.gather(*(throttled.send(SMS) for _ in range(6)))
    start = 1000.0
    assert [t - start for t in inner.times] == pytest.approx([0, 0, 0.5, 1.0, 1.5, 2.0])
    assert throttled.status()[0]["throttle"] == {"in_flight": 0, "waiting": 0, "concurrency": 10}


# ---- email ----------------------------------------------------------------------------------------------

SUBJECT = "Thông báo: hồ sơ H56.101-261122-0042 cần bổ sung giấy tờ trước ngày 26/11/2026 tại Bộ phận Một cửa"


def test_an_email_with_html_is_multipart_alternative_and_keeps_its_vietnamese_subject() -> None:
    message = OutgoingMessage(
        id="n-3",
        channel=Channel.EMAIL,
        recipient="an@example.vn",
        subject=SUBJECT,
        body="Kính gửi Ông/Bà Nguyễn Văn An,",
        html="<p>Kính gửi <b>Ông/Bà Nguyễn Văn An</b>,</p>",
    )
    raw = flatten_message(build_email(message, "Bộ phận Một cửa <motcua@lienthong.gov.vn>"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == SUBJECT
    assert parsed["X-Lienthong-Notification-Id"] == "n-3"
    assert "n-3" in parsed["Message-ID"]
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == "Kính gửi Ông/Bà Nguyễn Văn An,"
    assert html is not None and "<b>Ông/Bà Nguyễn Văn An</b>" in html.get_content()


async def test_smtp_cannot_be_asked_and_an_unreachable_relay_is_transient() -> None:
    provider = SmtpEmailProvider("127.0.0.1", free_port(), "motcua@lienthong.gov.vn", timeout=2)
    assert (await provider.lookup("n-3")).outcome is LookupOutcome.UNKNOWN
    message = OutgoingMessage(id="n-3", channel=Channel.EMAIL, recipient="an@example.vn", subject="x", body="x")
    with pytest.raises(ProviderError) as caught:
        await provider.send(message)
    assert (caught.value.permanent, caught.value.ambiguous, caught.value.provider) == (False, False, "smtp")
