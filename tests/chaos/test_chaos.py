"""Faults under load cost nothing. While `lienthong load` files and lives dossiers through the public APIs,
each service is killed with SIGKILL at a random moment and restarted, the broker is stopped and started, and
PostgreSQL is stopped and started (when the run is on PostgreSQL). Afterwards every dossier is where the
generator expected it, every step and clock agrees, every citizen got each expected message once, the
outboxes are empty and there is no dead letter.

    make chaos                                        # 3 minutes at 2 dossiers a second, embedded broker, SQLite
    LIENTHONG_CHAOS_SECONDS=60 make chaos             # a short pass (CI, on Apache Kafka and PostgreSQL)
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.devstack import DevStack
from services.loadgen.client import Endpoints
from services.loadgen.mix import Mix
from services.loadgen.province import offers as catalogue_offers
from services.loadgen.run import LoadConfig, Progress, Report, run_load, summary
from shared.catalog import default_catalog_dir, load_catalog
from tests.support.chaos import SERVICES, consumer_lag, log_digest, quiet, verify
from tests.support.infra import ROOT, Broker
from tests.support.notify_api import sandbox_post
from tests.support.stacks import running_stack
from tests.support.waiting import wait_until

SECONDS = float(os.environ.get("LIENTHONG_CHAOS_SECONDS", "180"))
RATE = float(os.environ.get("LIENTHONG_CHAOS_RATE", "2"))
SEED = int(os.environ.get("LIENTHONG_CHAOS_SEED", "1"))
POSTGRES_CONTROL = os.environ.get("LIENTHONG_TEST_POSTGRES_CONTROL", "bash deploy/postgres/postgres.sh")


def say(what: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {what}", flush=True)


def faults(stack: DevStack, broker: Broker, rng: random.Random) -> list[tuple[str, Callable[[], None]]]:
    """Each fault, in turn; each takes something away and brings it back."""

    def kill_and_restart(name: str) -> Callable[[], None]:
        def run() -> None:
            code = stack.kill(name)
            say(f"SIGKILL {name} (exit {code})")
            time.sleep(rng.uniform(1, 4))
            stack.start_service(name)
            say(f"{name} restarted and ready")

        return run

    def broker_outage() -> None:
        broker.stop()
        say(f"broker stopped ({'Apache Kafka' if broker.external else 'embedded, frozen'})")
        time.sleep(rng.uniform(5, 10))
        broker.start()
        say("broker started")

    def database_outage() -> None:
        control = [*POSTGRES_CONTROL.split()]
        subprocess.run([*control, "stop"], check=True, cwd=ROOT, capture_output=True)
        say("PostgreSQL stopped")
        time.sleep(rng.uniform(5, 10))
        subprocess.run([*control, "start"], check=True, cwd=ROOT, capture_output=True)
        say("PostgreSQL started")

    found = [(f"kill {name}", kill_and_restart(name)) for name in SERVICES]
    found.append(("broker outage", broker_outage))
    if os.environ.get("LIENTHONG_TEST_DATABASE_URL"):
        found.append(("database outage", database_outage))
    else:
        say("database outage skipped: SQLite files cannot be taken away from a running process")
    return found


@pytest.fixture
def stack(tmp_path: Path, broker: Broker) -> Any:
    env = {
        "LIENTHONG_ROUND_THE_CLOCK": "true",
        "LIENTHONG_RATE_LIMIT_PER_S": "0",
        "LIENTHONG_LOG_LEVEL": "WARNING",
        # A notification a killed notify left 'sending' is reconciled after this (production: 5 minutes).
        "LIENTHONG_NOTIFY_SENDING_TIMEOUT_S": "20",
    }
    with running_stack(tmp_path, broker, extra_env=env) as s:
        sandbox_post(s, "/sandbox/postal/auto", {"enabled": True, "delay_s": 1.0})
        yield s


@pytest.mark.timeout(SECONDS + 1800)
def test_faults_under_load_cost_nothing(stack: DevStack, broker: Broker) -> None:
    rng = random.Random(SEED)
    endpoints = Endpoints(
        intake=stack.config.url("intake"),
        routing=stack.config.url("routing"),
        admin_key=stack.admin_key,
        portal_key=stack.key("dev-portal"),
    )
    mix = Mix(supplement=0.15, payment=0.5, by_post=0.3, think_s=(0.5, 3.0))
    config = LoadConfig(endpoints, rate=RATE, duration_s=SECONDS, seed=SEED, mix=mix, drain_s=600)
    offers = catalogue_offers(load_catalog(default_catalog_dir()))
    outcome: dict[str, Report | BaseException] = {}

    def load() -> None:
        try:
            outcome["report"] = asyncio.run(run_load(config, offers, Progress(every_s=10)))
        except BaseException as exc:
            outcome["report"] = exc

    say(f"load: {RATE:g} dossiers/s for {SECONDS:g}s, seed {SEED}")
    generator = threading.Thread(target=load, name="load")
    generator.start()
    started = time.monotonic()
    plan = faults(stack, broker, rng)
    # Spread over the filing time, each at a random moment of its own slice.
    slice_s = SECONDS * 0.8 / len(plan)
    for i, (name, act) in enumerate(plan):
        at = SECONDS * 0.1 + i * slice_s + rng.uniform(0, slice_s * 0.5)
        time.sleep(max(0.0, started + at - time.monotonic()))
        say(f"fault {i + 1}/{len(plan)}: {name}")
        act()
    generator.join(timeout=SECONDS + config.drain_s + 120)
    report = outcome.get("report")
    assert isinstance(report, Report), f"the load generator did not finish: {report!r}"
    print(summary(report), flush=True)

    def settled() -> bool:
        left = {**quiet(stack), **{f"lag {k}": v for k, v in consumer_lag(stack).items()}}
        say(f"waiting for the work in hand: {left}")
        return not any(left.values())

    try:
        wait_until(settled, 300, "outboxes, notifications and consumer lag to drain", every=5)
    except AssertionError as exc:
        say(f"PROBLEM: {exc}")  # the findings below say what is left
    findings = verify(stack, report)
    for fact in findings.facts:
        say(f"ok: {fact}")
    for problem in findings.problems:
        say(f"PROBLEM: {problem}")
    if findings.problems:
        for service, lines in log_digest(stack).items():
            for line in lines:
                say(f"log {service}: {line}")
    assert not findings.problems, findings.problems
