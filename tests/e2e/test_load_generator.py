"""`lienthong load` against the running platform: a seeded province's few seconds of filings, each dossier
lived through the public APIs (desk, portal, units, the citizen, the post), ends in the status the
generator planned, and intake agrees."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from services.devstack import DevStack
from services.loadgen.client import Endpoints
from services.loadgen.mix import Fate, Mix, arrivals, plan_dossier
from services.loadgen.province import offers as catalogue_offers
from services.loadgen.run import LoadConfig, Progress, run_load, summary
from shared.catalog import default_catalog_dir, load_catalog
from tests.support.dossier_api import dossier
from tests.support.infra import Broker
from tests.support.notify_api import sandbox_post
from tests.support.stacks import running_stack

pytestmark = pytest.mark.e2e

SEED, RATE, SECONDS = 2, 2.0, 8.0
MIX = Mix(
    online=0.5,
    postal=0.2,
    interconnected=0.15,
    refused=0.1,
    withdrawn=0.1,
    supplement=0.3,
    payment=1.0,
    by_post=0.4,
    think_s=(0.1, 0.4),
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    env = {"LIENTHONG_ROUND_THE_CLOCK": "true", "LIENTHONG_RATE_LIMIT_PER_S": "0"}
    with running_stack(tmp_path_factory.mktemp("load"), broker, extra_env=env) as s:
        sandbox_post(s, "/sandbox/postal/auto", {"enabled": True, "delay_s": 0.5})
        yield s


def test_every_dossier_ends_as_planned(stack: DevStack) -> None:
    offers = catalogue_offers(load_catalog(default_catalog_dir()))
    endpoints = Endpoints(
        intake=stack.config.url("intake"),
        routing=stack.config.url("routing"),
        admin_key=stack.admin_key,
        portal_key=stack.key("dev-portal"),
    )
    config = LoadConfig(endpoints, rate=RATE, duration_s=SECONDS, seed=SEED, mix=MIX, drain_s=420)
    report = asyncio.run(run_load(config, offers, Progress(every_s=5)))
    print(summary(report))
    assert report.all_ok, summary(report)
    fates = Counter(d["fate"] for d in report.dossiers)
    assert set(fates) == {f.value for f in Fate}, fates
    events = Counter(e for d in report.dossiers for e in d["events"])
    # The seed's dossiers include the paths worth driving: a supplement, a fee paid, an interconnected route.
    assert events["supplements"] >= 1 and events["payments"] >= 1, events
    assert max(d["steps"] for d in report.dossiers) > 1
    assert report.filing_ms["p99"] > 0 and report.requests.get("POST 201", 0) >= len(report.dossiers)
    for d in report.dossiers:
        assert dossier(stack, d["code"])["status"] == d["fate"], d


def test_the_plans_of_the_seed_cover_every_path() -> None:
    offers = catalogue_offers(load_catalog(default_catalog_dir()))
    plans = [plan_dossier(SEED, i, MIX, offers) for i in range(len(arrivals(SEED, RATE, SECONDS)))]
    returned = [p for p in plans if p.fate is Fate.RETURNED]
    assert any(p.offer.interconnected and p.payment_at_step is not None for p in returned)
    assert any(p.supplement_at_step is not None for p in returned)
    assert any(p.channel == "postal" for p in returned) and any(p.result_delivery == "postal" for p in returned)
    assert {p.fate for p in plans} == set(Fate)
