"""An external handover nobody acknowledged, back-dated: the land office's late step is split between the
interconnection (from the handover until the land office took the step in hand through the API) and the land
office itself (the rest), and a report read as of the quarter's end sees the same split as one read now.

Land change at the commune desk, accepted Mon 2 Mar 2026 08:00. The appraisal (4 working days) is handed to
the land registry's system (the sandbox, silent) Mon 10:00: due Fri 6 Mar 10:00. Nobody acknowledges it; the
land office accepts it through the API Tue 3 Mar 10:00 (480 working minutes lost: Mon 10:00–17:00, Tue
07:00–10:00) and completes it Tue 10 Mar 10:00, 960 working minutes past its deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.devstack import DevStack
from tests.support.infra import Broker
from tests.support.routing_api import DESK, act, at, file_land, routed, slip, vn
from tests.support.sla_api import clock, wait_clock
from tests.support.stacks import db_rows, running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    env = {"LIENTHONG_SLA_SWEEP_INTERVAL_S": "3600"}
    with running_stack(tmp_path_factory.mktemp("sla-interconnection"), broker, extra_env=env) as s:
        yield s


def appraisal(body: dict[str, Any]) -> dict[str, Any]:
    step: dict[str, Any] = body["steps"][1]
    return step


def test_unacknowledged_time_is_the_interconnections_until_the_unit_takes_the_step(stack: DevStack) -> None:
    code = file_land(stack, DESK, vn(2026, 3, 2, 8))
    ids = [s["step_id"] for s in routed(stack, code)["steps"]]
    act(stack, None, ids[0], "accept", {"occurred_at": vn(2026, 3, 2, 8, 30).isoformat()})
    act(stack, None, ids[0], "complete", {"outcome": "approved", "occurred_at": vn(2026, 3, 2, 10).isoformat()})
    sql = "SELECT count(*) FROM outbox WHERE key = :c AND event_type = 'handover.unacknowledged'"
    wait_until(lambda: db_rows(stack, "routing", sql, c=code)[0][0] == 1, 60, "handover.unacknowledged")
    act(stack, None, ids[1], "accept", {"occurred_at": vn(2026, 3, 3, 10).isoformat()})
    act(stack, None, ids[1], "complete", {"outcome": "approved", "occurred_at": vn(2026, 3, 10, 10).isoformat()})

    # The clock may exist before sla has seen the second step's handover: wait for both.
    now = wait_clock(
        stack,
        code,
        lambda b: len(b["steps"]) > 1 and appraisal(b)["ending"] == "completed",
        "sla to see the appraisal done",
    )
    quarter_end = clock(stack, code, vn(2026, 3, 31, 17))
    for body in (now, quarter_end):
        step = appraisal(body)
        assert at(step["deadline_at"]) == vn(2026, 3, 6, 10)
        assert (step["interconnection_minutes"], step["interconnection_overrun_minutes"], step["overrun_minutes"]) == (
            480,
            480,
            480,
        )
        parties = {(o["party"], o["level"], o["minutes"]) for o in body["overruns"] if o["step_seq"] == 2}
        assert parties == {("interconnection", "interconnection", 480), ("unit", "land_office", 480)}
    row = next(r for r in slip(stack, code) if r["step_key"] == "appraise")
    assert row["interconnection_minutes"] == 480  # routing's slip and sla agree
