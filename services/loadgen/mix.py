"""What a province's day is made of, as data: which procedures at which units, by which channel, and what
becomes of each dossier. Pure and seeded: the same seed and index always give the same dossier."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

FAMILY_NAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Ngô")
MIDDLE_NAMES = ("Văn", "Thị", "Minh", "Thu", "Quốc", "Ngọc", "Đức", "Thanh", "Hữu", "Kim")
GIVEN_NAMES = ("An", "Bình", "Cường", "Dũng", "Hà", "Hoa", "Lan", "Mai", "Nam", "Phương", "Quân", "Sơn", "Trang")
STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Quang Trung", "Phan Đình Phùng")


class Fate(StrEnum):
    """What the generator does with a dossier, hence the status it must end in."""

    RETURNED = "returned"  # decided, and the result handed over (desk or post)
    REFUSED = "refused"  # refused by the desk before acceptance (online and postal filings)
    WITHDRAWN = "withdrawn"  # the citizen withdraws it while it is processed


@dataclass(frozen=True)
class Offer:
    """One procedure as one unit receives it: what the catalogue allows there."""

    procedure_code: str
    unit_code: str
    interconnected: bool
    channels: tuple[str, ...]
    result_delivery: tuple[str, ...]


@dataclass(frozen=True)
class Mix:
    """Shares of the day. The defaults follow the 2025 figures: 83 % online, about a third interconnected
    at commune level, few refusals and withdrawals."""

    online: float = 0.83
    postal: float = 0.03
    interconnected: float = 0.3
    refused: float = 0.02
    withdrawn: float = 0.01
    supplement: float = 0.08
    payment: float = 0.3
    by_post: float = 0.2
    think_s: tuple[float, float] = (1.0, 6.0)

    def __post_init__(self) -> None:
        shares = (self.online, self.postal, self.interconnected, self.refused, self.withdrawn, self.supplement)
        if not all(0 <= s <= 1 for s in (*shares, self.payment, self.by_post)):
            raise ValueError("every share lies between 0 and 1")
        if self.online + self.postal > 1:
            raise ValueError("online and postal shares add up to more than 1")
        low, high = self.think_s
        if not 0 <= low <= high:
            raise ValueError("think_s is (low, high) with 0 ≤ low ≤ high")


@dataclass(frozen=True)
class Applicant:
    full_name: str
    id_number: str
    phone: str
    email: str
    address: str


@dataclass(frozen=True)
class DossierPlan:
    index: int
    offer: Offer
    channel: str
    result_delivery: str
    applicant: Applicant
    fate: Fate
    supplement_at_step: int | None  # the step (0-based) whose unit asks the citizen for a supplement
    payment_at_step: int | None  # the step whose unit sets a fee or tax that the citizen then pays
    withdraw_at_step: int  # with Fate.WITHDRAWN: the step during which the citizen withdraws
    think: tuple[float, ...] = field(repr=False)

    def think_s(self, n: int) -> float:
        """The ``n``-th human pause of this dossier (seconds), the same at every run of the seed."""
        return self.think[n % len(self.think)]

    @property
    def submitted_first(self) -> bool:
        """Filed online or by post: it waits for a desk's acceptance (or refusal)."""
        return self.channel != "in_person"


def plan_dossier(seed: int, index: int, mix: Mix, offers: list[Offer]) -> DossierPlan:
    if not offers:
        raise ValueError("no procedure is offered")
    rng = random.Random(f"{seed}:{index}")
    interconnected = [o for o in offers if o.interconnected]
    one_stop = [o for o in offers if not o.interconnected]
    pool = interconnected if interconnected and (not one_stop or rng.random() < mix.interconnected) else one_stop
    offer = rng.choice(pool)
    channel = _channel(rng, mix, offer)
    by_post = "postal" in offer.result_delivery and rng.random() < mix.by_post
    delivery = "postal" if by_post else ("desk" if "desk" in offer.result_delivery else offer.result_delivery[0])
    roll = rng.random()
    if channel != "in_person" and roll < mix.refused:
        fate = Fate.REFUSED
    elif roll < mix.refused + mix.withdrawn:
        fate = Fate.WITHDRAWN
    else:
        fate = Fate.RETURNED
    low, high = mix.think_s
    return DossierPlan(
        index=index,
        offer=offer,
        channel=channel,
        result_delivery=delivery,
        applicant=_applicant(rng, seed, index),
        fate=fate,
        supplement_at_step=0 if rng.random() < mix.supplement else None,
        payment_at_step=1 if offer.interconnected and rng.random() < mix.payment else None,
        withdraw_at_step=0,
        think=tuple(rng.uniform(low, high) for _ in range(16)),
    )


def _channel(rng: random.Random, mix: Mix, offer: Offer) -> str:
    roll = rng.random()
    wanted = "online" if roll < mix.online else ("postal" if roll < mix.online + mix.postal else "in_person")
    if wanted in offer.channels:
        return wanted
    return "in_person" if "in_person" in offer.channels else offer.channels[0]


def _applicant(rng: random.Random, seed: int, index: int) -> Applicant:
    family, middle, given = rng.choice(FAMILY_NAMES), rng.choice(MIDDLE_NAMES), rng.choice(GIVEN_NAMES)
    # Phone and ID number are unique per (seed, index) so a run's messages can be told apart at the operator.
    serial = (seed % 97) * 10_000_000 + index % 10_000_000
    return Applicant(
        full_name=f"{family} {middle} {given}",
        id_number=f"0{rng.randrange(1, 97):02d}{rng.randrange(0, 4)}{serial % 100_000_000:08d}",
        phone=f"09{serial % 100_000_000:08d}",
        email=f"cong.dan.{seed}.{index}@example.vn",
        address=f"{rng.randrange(1, 300)} {rng.choice(STREETS)}, tỉnh Quảng Ngãi",
    )


def arrivals(seed: int, rate: float, duration_s: float) -> list[float]:
    """Filing instants (seconds from the start) of a Poisson stream at ``rate`` a second."""
    if rate <= 0 or duration_s <= 0:
        return []
    rng = random.Random(f"{seed}:arrivals")
    times: list[float] = []
    t = rng.expovariate(rate)
    while t < duration_s:
        times.append(t)
        t += rng.expovariate(rate)
    return times
