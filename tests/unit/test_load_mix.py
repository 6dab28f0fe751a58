"""The load generator's province, as data: seeded, within the catalogue's offers, with the requested shares."""

from __future__ import annotations

from collections import Counter

import pytest

from services.loadgen.mix import Fate, Mix, Offer, arrivals, plan_dossier
from services.loadgen.province import offers as catalogue_offers
from shared.catalog import default_catalog_dir, load_catalog

OFFERS = catalogue_offers(load_catalog(default_catalog_dir()))


def test_the_sample_catalogue_offers_one_stop_and_interconnected_procedures_at_every_commune() -> None:
    assert {o.unit_code for o in OFFERS} == {"H56.101", "H56.102", "H56.103"}
    assert any(o.interconnected for o in OFFERS) and any(not o.interconnected for o in OFFERS)
    land = [o for o in OFFERS if o.procedure_code == "1.012777.000.00.00.H56"]
    assert land and all("postal" in o.result_delivery for o in land)


def test_the_same_seed_and_index_give_the_same_dossier() -> None:
    a = [plan_dossier(3, i, Mix(), OFFERS) for i in range(200)]
    b = [plan_dossier(3, i, Mix(), OFFERS) for i in range(200)]
    assert a == b
    assert a != [plan_dossier(4, i, Mix(), OFFERS) for i in range(200)]


def test_shares_follow_the_mix() -> None:
    plans = [plan_dossier(1, i, Mix(), OFFERS) for i in range(20_000)]
    # Online where the procedure allows it: close to 83 % (the others go to the desk).
    can = [p for p in plans if "online" in p.offer.channels]
    channels = Counter(p.channel for p in can)
    assert 0.81 < channels["online"] / len(can) < 0.85, channels
    assert channels["in_person"] > 0 and len(can) < len(plans)
    assert 0.25 < sum(p.offer.interconnected for p in plans) / len(plans) < 0.35
    fates = Counter(p.fate for p in plans)
    assert 0.01 < fates[Fate.REFUSED] / len(plans) < 0.03 and 0.005 < fates[Fate.WITHDRAWN] / len(plans) < 0.02
    assert 0.06 < sum(p.supplement_at_step is not None for p in plans) / len(plans) < 0.10


def test_every_plan_is_allowed_by_its_offer() -> None:
    for i in range(5_000):
        p = plan_dossier(2, i, Mix(online=0.6, postal=0.3, by_post=0.5), OFFERS)
        assert p.channel in p.offer.channels and p.result_delivery in p.offer.result_delivery
        assert p.fate is not Fate.REFUSED or p.submitted_first, "only a submitted filing can be refused"
        assert p.payment_at_step is None or p.offer.interconnected
        assert len(p.applicant.phone) == 10 and p.applicant.phone.startswith("09")
        assert len(p.applicant.id_number) == 12 and p.applicant.id_number.isdigit()


def test_applicants_of_one_run_are_told_apart_by_phone() -> None:
    phones = {plan_dossier(5, i, Mix(), OFFERS).applicant.phone for i in range(10_000)}
    assert len(phones) == 10_000


def test_a_channel_the_procedure_lacks_falls_back_to_the_desk() -> None:
    desk_only = Offer("2.000815.000.00.00.H56", "H56.101", False, ("in_person",), ("desk",))
    plans = [plan_dossier(1, i, Mix(online=1.0, postal=0.0), [desk_only]) for i in range(50)]
    assert {p.channel for p in plans} == {"in_person"}
    assert {p.fate for p in plans} <= {Fate.RETURNED, Fate.WITHDRAWN}


def test_arrivals_are_a_poisson_stream_at_the_rate() -> None:
    times = arrivals(9, rate=50, duration_s=200)
    assert times == sorted(times) and all(0 <= t < 200 for t in times)
    assert 9_500 < len(times) < 10_500
    assert arrivals(9, 50, 200) == times and arrivals(9, 0, 10) == []


@pytest.mark.parametrize("bad", [{"online": 0.9, "postal": 0.2}, {"refused": 1.5}, {"think_s": (3.0, 1.0)}])
def test_a_bad_mix_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Mix(**bad)  # type: ignore[arg-type]
