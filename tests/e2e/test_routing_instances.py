"""Routing scaled out: two instances in one consumer group split intake's partitions, and killed one at a
time (SIGKILL, mid-stream) while dossiers keep coming, they lose no step and take none twice.

The instances share routing's database. On SQLite one relay publishes at a time (the relay lease), and the
lease moves to the survivor once its dead holder's lease runs out (``LEASE_S``); a killed consumer's
partitions move once the broker gives up on its session. Both take tens of seconds: the waits allow them.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from services.devstack import DevStack
from shared.bus.relay import LEASE_S
from shared.events.envelope import Envelope
from shared.events.topics import INTAKE_DOSSIER, ROUTING_STEP
from tests.support.dossier_api import api, ok
from tests.support.infra import Broker
from tests.support.instances import Group, describe_group, first_arrivals, processed, read_topic
from tests.support.routing_api import DESK, LAND
from tests.support.stacks import db_rows, running_stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

BIRTH = "1.001193.000.00.00.H56"  # birth registration: one-stop, decided at the commune itself
STEPS = {
    LAND: ["intake", "appraise", "tax_assessment", "payment", "update_certificate", "return"],
    BIRTH: ["decide"],
}
EMITTED = ["route.planned", "step.assigned"]  # what routing emits for a dossier accepted, before any action
N = 60
FIRST, SECOND = "lienthong-routing-consumer", "lienthong-routing-2-consumer"  # the instances' Kafka client ids
SESSION_S = 30  # the consumer's session timeout (20 s), with the embedded broker's slack on it


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("routing-instances"), broker) as s:
        s.start_service("routing", instance=2)
        yield s


def body(n: int) -> dict[str, Any]:
    """Every fourth dossier a one-stop birth registration, the others an interconnected land change."""
    procedure = BIRTH if n % 4 == 3 else LAND
    return {
        "procedure_code": procedure,
        "receiving_unit_code": DESK,
        "channel": "in_person",
        "applicant": {"full_name": f"Nguyễn Văn {n}", "phone": "0912345678"},
    }


def post(stack: DevStack, n: int) -> tuple[str, str]:
    """File and accept (the admin key, at the desk) dossier ``n``: (code, procedure)."""
    payload = body(n)
    with api(stack) as c:
        return str(ok(c.post("/v1/dossiers", json=payload), 201)["code"]), payload["procedure_code"]


class Stream:
    """Posts dossiers from a few threads in the background; post ``n`` waits until ``n`` is below the release
    mark, so the test holds part of the stream back until the stack is ready for it."""

    def __init__(self, stack: DevStack, workers: int = 4) -> None:
        self._stack = stack
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="poster")
        self._changed = threading.Condition()
        self._released = 0
        self._futures: list[Future[None]] = []
        self.posted: dict[str, str] = {}  # code → procedure

    def start(self, total: int, released: int) -> None:
        self._released = released
        self._futures = [self._pool.submit(self._post, n) for n in range(total)]

    def _post(self, n: int) -> None:
        with self._changed:
            self._changed.wait_for(lambda: n < self._released)
        code, procedure = post(self._stack, n)
        with self._changed:
            self.posted[code] = procedure
            self._changed.notify_all()

    def release(self, upto: int) -> None:
        with self._changed:
            self._released = upto
            self._changed.notify_all()

    def wait_posted(self, count: int, timeout: float = 60) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.posted) >= count, timeout), f"{count} posts"

    def finish(self) -> dict[str, str]:
        self.release(len(self._futures))
        for future in self._futures:
            future.result(timeout=120)
        self._pool.shutdown()
        return dict(self.posted)


def side_by_side(stack: DevStack, killed: list[str] | None = None) -> Group:
    """Wait until both instances are members of routing's group and it is stable, a killed member gone (the
    broker drops it once its session runs out)."""

    def check() -> Group | None:
        try:
            group = describe_group(stack, "routing")
        except KafkaError:  # the coordinator is moving or loading the group: ask again
            return None
        gone = not set(killed or []) & {member for _, member in group.members}
        return group if group.state == "Stable" and group.clients == sorted([FIRST, SECOND]) and gone else None

    return wait_until(check, 3 * SESSION_S, "both routing instances in one stable consumer group", every=1)


def warm_up(stack: DevStack) -> dict[str, str]:
    """Post dossiers until each instance has planned a route from its own partitions (its own /metrics)."""
    posted: dict[str, str] = {}

    def both_consumed() -> list[int] | None:
        counts = [processed(stack, "routing", INTAKE_DOSSIER.name, instance=i) for i in (1, 2)]
        if all(counts):
            return counts
        code, procedure = post(stack, len(posted))
        posted[code] = procedure
        return None

    wait_until(both_consumed, 90, "each routing instance to plan routes from its own partitions", every=0.5)
    return posted


def stream_with_kills(stack: DevStack, group: Group) -> dict[str, str]:
    """Post N dossiers, four at a time. Instance 1 is killed once a third are in, while more keep coming, and
    restarted; the rest wait until it is back in the group. Instance 2 is killed once two thirds are in,
    while the rest keep coming, and restarted."""
    stream = Stream(stack)
    stream.start(N, released=N // 2)
    try:
        stream.wait_posted(N // 3)
        assert stack.kill("routing", signal.SIGKILL, instance=1) == -signal.SIGKILL
        stack.start_service("routing", instance=1)
        group = side_by_side(stack, killed=group.member_ids(FIRST))
        stream.release(N)
        stream.wait_posted(2 * N // 3)
        assert stack.kill("routing", signal.SIGKILL, instance=2) == -signal.SIGKILL
        stack.start_service("routing", instance=2)
        side_by_side(stack, killed=group.member_ids(SECOND))
    finally:
        posted = stream.finish()
    assert len(posted) == N
    return posted


def wait_settled(stack: DevStack, count: int) -> None:
    """Every dossier routed and every event routing emitted published (on SQLite, by the lease's holder)."""

    def settled() -> bool:
        sql = "SELECT (SELECT count(*) FROM route), (SELECT count(*) FROM outbox WHERE sent_at IS NULL)"
        ((routes, unsent),) = db_rows(stack, "routing", sql)
        return bool(routes == count and unsent == 0)

    wait_until(settled, 2 * LEASE_S + 60, "every dossier routed and its events published", every=1)


def routing_steps(stack: DevStack) -> dict[str, list[tuple[str, str]]]:
    """(key, step id) of each dossier's steps in the database, by seq."""
    steps: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, key, step_id in db_rows(stack, "routing", "SELECT dossier_code, key, id FROM step ORDER BY seq"):
        steps[code].append((key, step_id))
    return steps


def routing_outbox(stack: DevStack) -> dict[str, list[tuple[str, str]]]:
    """(type, event id) of what routing emitted for each dossier, in the order it was written."""
    emitted: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, event_type, event_id in db_rows(
        stack, "routing", "SELECT key, event_type, event_id FROM outbox ORDER BY id"
    ):
        emitted[code].append((event_type, event_id))
    return emitted


def per_dossier(events: list[Envelope]) -> dict[str, list[Envelope]]:
    grouped: dict[str, list[Envelope]] = defaultdict(list)
    for event in events:
        grouped[event.dossier_code].append(event)
    return grouped


def assert_each_effect_once(stack: DevStack, dossiers: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """One route per dossier, exactly its planned steps, one first handover (of its first step), no dead letter,
    and the inbox holding exactly the distinct dossier.accepted events on the wire."""
    codes = set(dossiers)
    routes = Counter(code for (code,) in db_rows(stack, "routing", "SELECT dossier_code FROM route"))
    assert routes == Counter(codes), "a route is missing or planned twice"
    steps = routing_steps(stack)
    wrong_steps = {c: s for c, s in steps.items() if [key for key, _ in s] != STEPS[dossiers[c]]}
    assert set(steps) == codes and not wrong_steps, wrong_steps
    handovers = db_rows(stack, "routing", "SELECT dossier_code, seq, attempt, step_id FROM handover")
    assert Counter(code for code, *_ in handovers) == Counter(codes), "a first handover is missing or repeated"
    assert all((seq, attempt, step_id) == (1, 1, steps[code][0][1]) for code, seq, attempt, step_id in handovers)
    assert db_rows(stack, "routing", "SELECT count(*) FROM dead_letter") == [(0,)]

    accepted = first_arrivals(
        read_topic(stack, INTAKE_DOSSIER.name, codes, len(codes), types={"dossier.accepted"}, timeout=90)
    )
    assert Counter(e.dossier_code for e in accepted) == Counter(codes), "a dossier accepted twice, or never"
    inbox = db_rows(stack, "routing", "SELECT event_id FROM inbox WHERE event_type = 'dossier.accepted'")
    assert sorted(i for (i,) in inbox) == sorted(str(e.event_id) for e in accepted)
    return steps


def test_two_routing_instances_split_the_partitions_and_killed_in_turn_lose_and_repeat_no_step(
    stack: DevStack,
) -> None:
    group = side_by_side(stack)
    dossiers = warm_up(stack)
    dossiers.update(stream_with_kills(stack, group))
    codes = set(dossiers)
    wait_settled(stack, len(codes))
    steps = assert_each_effect_once(stack, dossiers)

    # On the wire, an event may come twice (at-least-once), an effect may not: each dossier's distinct events
    # are route.planned then step.assigned, the very events of routing's outbox, naming the steps it stored.
    emitted = routing_outbox(stack)
    wrong_events = {c: [t for t, _ in e] for c, e in emitted.items() if [t for t, _ in e] != EMITTED}
    assert set(emitted) == codes and not wrong_events, wrong_events
    wire = per_dossier(first_arrivals(read_topic(stack, ROUTING_STEP.name, codes, 2 * len(codes), timeout=90)))
    assert {c: [(e.type, str(e.event_id)) for e in events] for c, events in wire.items()} == emitted
    for code, (planned, assigned) in wire.items():
        assert [str(s["step_id"]) for s in planned.payload["steps"]] == [i for _, i in steps[code]]
        assert str(assigned.payload["step_id"]) == steps[code][0][1]
