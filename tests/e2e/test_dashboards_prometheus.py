"""A real Prometheus scrapes the running stack every second with the project's recording and alert rules; a
small province's morning goes through the public APIs; then every query of every Grafana panel returns a
number, and the numbers the scenario fixes are the ones the ops team would read.

The morning: two births registered at the desk and decided the same morning (on time); one filed online,
accepted by the desk, then paused for a supplement; one filed by post (a pickup order), then accepted; a
birth back-dated two weeks and decided now (late, the commune's); two land changes back-dated one and three
weeks whose appraisal the land registry never acknowledged (overdue steps, one overdue dossier, apologies,
unacknowledged handovers); a land change filed now (a step due soon); an SMS both operators refuse once (a
retry waiting); and a garbage message on intake's topic (a dead letter).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.devstack import DevStack
from shared.calendar import VIETNAM_TZ, vietnam_calendar
from tests.support.dossier_api import act, api, ok, wait_routed
from tests.support.infra import Broker
from tests.support.notify_api import sandbox_post
from tests.support.prometheus import (
    SERVICES,
    Prometheus,
    dashboard_queries,
    dashboard_variables,
    running_prometheus,
)
from tests.support.routing_api import DESK, LAND, file_land, routed
from tests.support.routing_api import act as step_act
from tests.support.stacks import running_stack
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus (make ops-tools)"),
]

BIRTH = "1.001193.000.00.00.H56"  # one-stop, same day, at the commune
CITIZEN = {"full_name": "Trần Thị Mai", "phone": "0913555777", "email": "tran.thi.mai@example.vn"}
GARBAGE_KEY = b"H56.101-000000-0000"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    env = {"LIENTHONG_SLA_SWEEP_INTERVAL_S": "1", "LIENTHONG_NOTIFY_BACK_DATED_AFTER_H": "2400"}
    with running_stack(tmp_path_factory.mktemp("dashboards"), broker, extra_env=env) as s:
        yield s


@pytest.fixture(scope="module")
def prometheus(stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with running_prometheus(stack, tmp_path_factory.mktemp("prometheus")) as p:
        wait_until(lambda: set(p.targets_up().values()) == {"up"}, 30, "every service to be scraped")
        yield p


def working_morning(days_ago: int) -> datetime:
    """08:00 of the last working day at least ``days_ago`` days before today (Vietnam time)."""
    calendar = vietnam_calendar()
    day = datetime.now(VIETNAM_TZ).date() - timedelta(days=days_ago)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return datetime.combine(day, time(8, 0), VIETNAM_TZ)


def last_working_morning() -> datetime:
    return working_morning(1)


def file(stack: DevStack, key: str, channel: str, *, procedure: str = BIRTH, **extra: Any) -> dict[str, Any]:
    body = {
        "procedure_code": procedure,
        "receiving_unit_code": DESK,
        "channel": channel,
        "applicant": {**CITIZEN, "address": "5 Trần Hưng Đạo, xã Tịnh Sơn"},
        **extra,
    }
    with api(stack, key) as c:
        return ok(c.post("/v1/dossiers", json=body), 201)


def finish(stack: DevStack, code: str, start: datetime | None = None) -> None:
    """The commune takes and completes every step of the dossier, ten minutes apart from ``start`` (now
    when None; the admin key may back-date)."""
    for i, s in enumerate(routed(stack, code)["steps"]):
        times = [
            {"occurred_at": (start + timedelta(minutes=20 * i + m)).isoformat()} if start else {} for m in (10, 20)
        ]
        step_act(stack, None, s["step_id"], "accept", times[0])
        step_act(stack, None, s["step_id"], "complete", {"outcome": "approved", **times[1]})


def finished(prometheus: Prometheus, outcome: str) -> float:
    return sum(prometheus.values(f'lienthong_sla_dossiers_finished_total{{outcome="{outcome}"}}').values())


def publish_garbage(stack: DevStack) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.config.bootstrap)
        await producer.start()
        try:
            topic = f"{stack.config.kafka_namespace}intake.dossier.v1"
            await producer.send_and_wait(topic, key=GARBAGE_KEY, value=b'{"type": "dossier.accepted", "payload": 7')
        finally:
            await producer.stop()

    asyncio.run(run())


def seen(prometheus: Prometheus, expr: str, what: str) -> None:
    """Wait until Prometheus has scraped what ``expr`` selects: a counter's first increment is invisible to
    increase(), so the scenario makes the next one only after the series exists."""
    wait_until(lambda: prometheus.values(expr), 60, what)


def complete_first_step(stack: DevStack, code: str, start: datetime) -> None:
    first = routed(stack, code)["steps"][0]["step_id"]
    step_act(stack, None, first, "accept", {"occurred_at": (start + timedelta(minutes=30)).isoformat()})
    step_act(
        stack, None, first, "complete", {"outcome": "approved", "occurred_at": (start + timedelta(hours=2)).isoformat()}
    )


@pytest.fixture(scope="module")
def morning(stack: DevStack, prometheus: Prometheus) -> dict[str, str]:
    """The scenario; returns the dossier codes by role."""
    admin, portal, desk = stack.admin_key, stack.key("dev-portal"), stack.key(f"dev-desk-{DESK}")
    for operator in ("sms-a", "sms-b"):  # the first SMS fails at both operators once: a temporary failure
        sandbox_post(stack, f"/sandbox/{operator}/failure", {"mode": "error", "count": 1})
    # A step is handed over in working hours only: what the scenario finishes is back-dated, so the suite
    # runs at any hour.
    codes: dict[str, str] = {}
    for n, hour in enumerate((8, 9)):
        start = last_working_morning().replace(hour=hour)
        codes[f"on_time_{n}"] = file(stack, admin, "in_person", occurred_at=start.isoformat())["code"]
        finish(stack, codes[f"on_time_{n}"], start)
        seen(prometheus, f'lienthong_sla_dossiers_finished_total{{outcome="on_time"}} > {n}', "the on-time count")

    codes["online"] = file(stack, portal, "online")["code"]
    act(stack, desk, codes["online"], "accept", {})
    wait_routed(stack, codes["online"])
    supplement = {"items": ["Giấy chứng sinh"], "reason": "Bản chụp bị mờ"}
    act(stack, desk, codes["online"], "supplement-requests", supplement)
    codes["postal"] = file(stack, portal, "postal", result_delivery="postal")["code"]
    seen(prometheus, 'lienthong_notify_postal_orders{kind="pickup"}', "the post to be asked for a pickup")
    act(stack, desk, codes["postal"], "accept", {})
    codes["due_soon"] = file(stack, desk, "in_person", procedure=LAND)["code"]

    codes["late"] = file(stack, admin, "in_person", occurred_at=working_morning(14).isoformat())["code"]
    finish(stack, codes["late"])
    # Two land changes whose appraisal the land registry never acknowledged; the first is past its appointment.
    for n, days_ago in enumerate((21, 7)):
        start = working_morning(days_ago)
        codes[f"land_{n}"] = file_land(stack, DESK, start)
        complete_first_step(stack, codes[f"land_{n}"], start)
        seen(prometheus, f"sum(lienthong_sla_step_budget_share_count) > {n}", "the land step's budget share")
    publish_garbage(stack)
    return codes


def no_data(prometheus: Prometheus) -> list[str]:
    return [q.name for q in dashboard_queries() if not prometheus.values(q.expr)]


def test_every_panel_of_every_dashboard_has_data(prometheus: Prometheus, morning: dict[str, str]) -> None:
    empty: list[str] = []

    def all_have_data() -> bool:
        empty[:] = no_data(prometheus)
        return not empty

    try:
        wait_until(all_have_data, 180, "every panel to have data", every=2)
    except AssertionError:
        pytest.fail("panels without data after 3 minutes:\n  " + "\n  ".join(empty))
    assert len(dashboard_queries()) >= 60, "the dashboards lost panels"


def test_every_dashboard_variable_offers_values(prometheus: Prometheus, morning: dict[str, str]) -> None:
    for dashboard, name, selector, label in dashboard_variables():
        values = wait_until(
            lambda s=selector, la=label: prometheus.label_values(s, la),  # type: ignore[misc]
            60,
            f"{dashboard} ${name}",
        )
        assert values, (dashboard, name)
    assert set(prometheus.label_values('up{job="lienthong"}', "service")) == set(SERVICES)


def test_the_numbers_are_the_mornings(prometheus: Prometheus, morning: dict[str, str]) -> None:
    by = prometheus.by
    received = 'sum by (channel) (lienthong_intake_dossiers_total{status="accepted"})'
    # The back-dated filings are left out of "received": they were received two weeks ago.
    wait_until(lambda: by(received, "channel") == {"in_person": 1, "online": 1, "postal": 1}, 60, "received")
    submitted = by('sum by (channel) (lienthong_intake_dossiers_total{status="submitted"})', "channel")
    assert submitted == {"online": 1, "postal": 1}, submitted

    late = by('sum by (responsible_level) (lienthong_sla_dossiers_finished_total{outcome="late"})', "responsible_level")
    assert late == {"commune": 1}, late
    assert finished(prometheus, "on_time") == 2
    unacknowledged = wait_until(
        lambda: by("sum by (unit) (lienthong_sla_handovers_unacknowledged_total)", "unit"),
        60,
        "unacknowledged",
    )
    assert set(unacknowledged) == {"H56.VPDK.01"} and unacknowledged["H56.VPDK.01"] >= 1, unacknowledged
    # sla recounts these gauges every few seconds: a scenario that ends between two recounts reads the one before.
    overdue = "sum by (unit) (lienthong:sla_steps_overdue:max)"
    wait_until(lambda: by(overdue, "unit").get("H56.VPDK.01") == 2, 60, "two overdue land steps")
    dossiers_overdue = "sum by (unit) (lienthong:sla_dossiers_overdue:max)"
    wait_until(lambda: by(dossiers_overdue, "unit") == {DESK: 1}, 60, "one overdue dossier at the desk")
    paused = 'sum by (state) (lienthong:sla_dossiers_in_progress:max{unit="H56.101"})'
    wait_until(lambda: by(paused, "state").get("paused") == 1, 60, "one paused dossier")
    wait_until(lambda: sum(prometheus.values("lienthong:sla_steps_due_soon:max").values()) >= 1, 60, "a step due soon")
    pending = wait_until(
        lambda: by("lienthong:dead_letters_pending:max", "consumer").get("routing"),
        60,
        "routing's dead letter to be counted",
    )
    assert pending == 1
    assert by('max by (kind) (lienthong_notify_postal_orders{kind="pickup"})', "kind") == {"pickup": 1}
    # One refusal at each operator; a send that times out on a loaded machine is counted too.
    errors = by('sum by (provider) (lienthong_notify_provider_errors_total{channel="sms"})', "provider")
    assert len(errors) == 2 and min(errors.values()) >= 1, errors
    rules = prometheus.rule_health()
    assert rules and all(h == "ok" for h in rules.values()), {n: h for n, h in rules.items() if h != "ok"}
