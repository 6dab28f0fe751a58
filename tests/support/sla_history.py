"""Building a dossier's history for sla's pure rules, as intake and routing would publish it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from services.sla.facts import Fact
from shared.events.dossier import (
    Channel,
    Contact,
    DossierAccepted,
    DossierPaid,
    DossierStopped,
    DossierSupplemented,
    DossierWithdrawn,
    FinancialObligationSet,
    StatutoryTime,
    SupplementRequested,
    TimeUnit,
)
from shared.events.step import (
    DossierResolved,
    HandoverAcknowledged,
    HandoverFailed,
    HandoverUnacknowledged,
    PlannedStep,
    RoutePlanned,
    StepAccepted,
    StepAssigned,
    StepCompleted,
    StepSentBack,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


@dataclass(frozen=True)
class PlanStep:
    unit_code: str
    level: str
    budget_minutes: int
    counts: bool = True
    name: str = ""


@dataclass
class History:
    code: str = "H56.101-260309-0001"
    receiving_unit_code: str = "H56.101"
    facts: list[Fact] = field(default_factory=list)
    step_ids: list[uuid.UUID] = field(default_factory=list)
    plan: list[PlanStep] = field(default_factory=list)
    attempts: dict[int, int] = field(default_factory=dict)
    holder: dict[int, str] = field(default_factory=dict)

    def add(self, type_: str, at: datetime, payload: BaseModel) -> History:
        self.facts.append(Fact(type_, at, payload, len(self.facts) + 1))
        return self

    def accepted(
        self,
        at: datetime,
        appointment: datetime | None,
        days: float = 3,
        channel: Channel = Channel.IN_PERSON,
        starts: datetime | None = None,
    ) -> History:
        return self.add(
            "dossier.accepted",
            at,
            DossierAccepted(
                procedure_code="1.000001.000.00.00.H56",
                receiving_unit_code=self.receiving_unit_code,
                channel=channel,
                applicant=Contact(full_name="Nguyễn Văn An"),
                received_at=at,
                clock_starts_at=starts or at,
                appointment_at=appointment,
                statutory=StatutoryTime(amount=days, unit=TimeUnit.WORKING_DAYS),
            ),
        )

    def planned(self, at: datetime, *steps: PlanStep) -> History:
        self.plan = list(steps)
        self.step_ids = [self.new_step_id() for _ in steps]
        return self.add(
            "route.planned",
            at,
            RoutePlanned(
                procedure_code="1.000001.000.00.00.H56",
                steps=[
                    PlannedStep(
                        step_id=self.step_ids[i],
                        seq=i + 1,
                        unit_code=s.unit_code,
                        key=f"s{i + 1}",
                        name=s.name or f"Bước {i + 1}",
                        unit_level=s.level,
                        budget_minutes=s.budget_minutes,
                        counts=s.counts,
                    )
                    for i, s in enumerate(steps)
                ],
            ),
        )

    def new_step_id(self) -> uuid.UUID:
        return uuid.uuid4()

    def _ref(self, seq: int) -> dict[str, object]:
        s = self.plan[seq - 1]
        return {
            "step_id": self.step_ids[seq - 1],
            "seq": seq,
            "attempt": self.attempts[seq],
            "step_key": f"s{seq}",
            "unit_code": s.unit_code,
            "unit_level": s.level,
        }

    def assigned(self, seq: int, at: datetime, from_seq: int | None = None) -> History:
        self.attempts[seq] = self.attempts.get(seq, 0) + 1
        s = self.plan[seq - 1]
        frm = self.plan[from_seq - 1] if from_seq else None
        return self.add(
            "step.assigned",
            at,
            StepAssigned(
                step_id=self.step_ids[seq - 1],
                seq=seq,
                from_unit_code=frm.unit_code if frm else None,
                to_unit_code=s.unit_code,
                assigned_at=at,
                to_unit_level=s.level,
                attempt=self.attempts[seq],
                step_key=f"s{seq}",
            ),
        )

    def step_accepted(self, seq: int, at: datetime) -> History:
        return self.add("step.accepted", at, StepAccepted(**self._ref(seq), accepted_at=at))

    def completed(self, seq: int, at: datetime, assigned_at: datetime) -> History:
        return self.add(
            "step.completed",
            at,
            StepCompleted(**self._ref(seq), outcome="approved", assigned_at=assigned_at, finished_at=at),
        )

    def sent_back(self, seq: int, to_seq: int, at: datetime) -> History:
        to = self.plan[to_seq - 1]
        return self.add(
            "step.sent_back",
            at,
            StepSentBack(
                **self._ref(seq),
                reason="Thiếu bản vẽ",
                to_step_id=self.step_ids[to_seq - 1],
                to_seq=to_seq,
                to_unit_code=to.unit_code,
                to_unit_level=to.level,
                sent_back_at=at,
            ),
        )

    def failed(self, seq: int, handed_over_at: datetime, reported_at: datetime) -> History:
        return self.add(
            "handover.failed",
            reported_at,
            HandoverFailed(
                **self._ref(seq),
                handed_over_at=handed_over_at,
                reported_at=reported_at,
                reason="Hồ sơ điện tử không mở được",
            ),
        )

    def unacknowledged(self, seq: int, handed_over_at: datetime, at: datetime) -> History:
        return self.add(
            "handover.unacknowledged",
            at,
            HandoverUnacknowledged(**self._ref(seq), handed_over_at=handed_over_at, waited_minutes=120),
        )

    def acknowledged(self, seq: int, handed_over_at: datetime, at: datetime) -> History:
        return self.add(
            "handover.acknowledged",
            at,
            HandoverAcknowledged(**self._ref(seq), handed_over_at=handed_over_at, acknowledged_at=at),
        )

    def supplement(self, at: datetime, unit_code: str | None = None) -> History:
        return self.add(
            "dossier.supplement_requested",
            at,
            SupplementRequested(items=["Bản sao sổ hộ khẩu"], reason="Thiếu giấy tờ", requested_by_unit_code=unit_code),
        )

    def supplemented(self, at: datetime) -> History:
        return self.add("dossier.supplemented", at, DossierSupplemented(items=["Bản sao sổ hộ khẩu"]))

    def obligation(self, at: datetime) -> History:
        return self.add("dossier.financial_obligation_set", at, FinancialObligationSet(items=["Lệ phí trước bạ"]))

    def paid(self, at: datetime) -> History:
        return self.add("dossier.paid", at, DossierPaid())

    def resolved(self, at: datetime, unit_code: str | None = None) -> History:
        return self.add(
            "dossier.resolved", at, DossierResolved(resolved_at=at, resolving_unit_code=unit_code or "H56.101")
        )

    def withdrawn(self, at: datetime) -> History:
        return self.add("dossier.withdrawn", at, DossierWithdrawn(reason="Không có nhu cầu"))

    def stopped(self, at: datetime) -> History:
        return self.add("dossier.stopped", at, DossierStopped(reason="Hồ sơ có tranh chấp"))
