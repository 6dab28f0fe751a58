"""sla scaled out: two instances share one database and sweep the same timers; each warning, overdue flag
and apology is published exactly once, and the two processes together fired exactly that many.

Dossiers are accepted three weeks back (the admin key back-dates), so every timer of theirs is due the moment
sla writes it; a small batch makes the two sweepers take turns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.devstack import DevStack
from services.sla.timers import KINDS
from tests.support.dossier_api import api, ok
from tests.support.infra import Broker
from tests.support.stacks import db_rows, running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

VN = ZoneInfo("Asia/Ho_Chi_Minh")
WORKING_3 = "1.004873.000.00.00.H56"  # one-stop, 3 working days, decided at the commune
N = 30
SWEEP_ENV = {"LIENTHONG_SLA_SWEEP_INTERVAL_S": "0.2", "LIENTHONG_SLA_SWEEP_BATCH_SIZE": "3"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("sla-instances"), broker, extra_env=SWEEP_ENV) as s:
        s.start_service("sla", instance=2)
        yield s


def accept_weeks_ago(stack: DevStack, n: int) -> str:
    at = datetime(2026, 11, 2, 8, 0, tzinfo=VN) + timedelta(minutes=n)  # Monday 2 November 2026
    body = {
        "procedure_code": WORKING_3,
        "receiving_unit_code": "H56.103",
        "channel": "in_person",
        "applicant": {"full_name": f"Trần Thị {n}", "phone": "0912345678"},
        "occurred_at": at.isoformat(),
    }
    with api(stack) as c:
        return str(ok(c.post("/v1/dossiers", json=body), 201)["code"])


def fired_by(stack: DevStack, instance: int) -> tuple[int, int]:
    """(timers fired, sweeps run) by one sla process, from its /metrics."""
    text = httpx.get(f"{stack.config.url('sla', instance)}/metrics", timeout=10).text
    fired = sweeps = 0.0
    for line in text.splitlines():
        if line.startswith("lienthong_sla_timers_fired_total{"):
            fired += float(line.rsplit(" ", 1)[1])
        elif line.startswith("lienthong_sla_sweep_seconds_count"):
            sweeps += float(line.rsplit(" ", 1)[1])
    return int(fired), int(sweeps)


def test_two_sla_instances_fire_each_timer_exactly_once(stack: DevStack) -> None:
    codes = {accept_weeks_ago(stack, n) for n in range(N)}
    placeholders = ", ".join(f"'{k}'" for k in KINDS)

    def published() -> Counter[tuple[str, str]]:
        rows = db_rows(
            stack,
            "sla",
            f"SELECT key, event_type, count(*) FROM outbox WHERE event_type IN ({placeholders}) "
            "GROUP BY key, event_type",
        )
        return Counter({(str(code), str(kind)): int(n) for code, kind, n in rows if code in codes})

    # Each dossier: its step's notice and overdue flag, the dossier's notice and overdue flag, the apology.
    def all_fired() -> bool:
        got = published()
        missing = sorted({(c, k) for c in codes for k in KINDS} - set(got))
        assert not missing, f"{len(missing)} of {len(KINDS) * N} not published, e.g. {missing[:3]}"
        return True

    wait_until(all_fired, 120, "every timer to fire")
    before = [fired_by(stack, i)[1] for i in (1, 2)]
    wait_until(lambda: all(fired_by(stack, i)[1] > before[i - 1] + 2 for i in (1, 2)), 60, "both sweepers to run again")
    counts = published()
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v != 1]
    assert {code for code, _ in counts} == codes
    assert {kind for _, kind in counts} == set(KINDS)
    first, second = fired_by(stack, 1)[0], fired_by(stack, 2)[0]
    assert first + second == len(KINDS) * N, (first, second)
