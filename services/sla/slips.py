"""From a dossier's clock to the process control slip and the apology slip. No I/O: unit names come in as
a function."""

from __future__ import annotations

from collections.abc import Callable

from services.sla.clock_model import Apology, DossierClock
from services.sla.documents import ApologySlip, ControlSlip, ControlSlipRow

UnitName = Callable[[str | None], str]


def control_slip(clock: DossierClock, procedure_name: str, unit_name: UnitName) -> ControlSlip:
    rows = [
        ControlSlipRow(
            seq=a.seq,
            attempt=a.attempt,
            step_name=a.name,
            handing_over_unit_code=a.from_unit_code,
            handing_over_unit_name=unit_name(a.from_unit_code) if a.from_unit_code else "",
            receiving_unit_code=a.unit_code,
            receiving_unit_name=unit_name(a.unit_code),
            receiving_unit_level=a.unit_level,
            handed_over_at=a.assigned_at,
            accepted_at=a.accepted_at,
            deadline_at=a.deadline_at,
            finished_at=a.ended_at if a.end in ("completed", "sent_back") else None,
            result=a.result.value if a.result else None,
            counts=a.counts,
            paused_minutes=a.paused_minutes,
            interconnection_minutes=a.interconnection_minutes,
            overrun_minutes=a.overrun_minutes,
            interconnection_overrun_minutes=a.interconnection_overrun_minutes,
            note="Chuyển trả bước trước" if a.end == "sent_back" else "",
        )
        for a in sorted(clock.attempts, key=lambda a: (a.assigned_at, a.seq, a.attempt))
    ]
    return ControlSlip(
        dossier_code=clock.code,
        procedure_code=clock.procedure_code,
        procedure_name=procedure_name,
        receiving_unit_code=clock.receiving_unit_code,
        receiving_unit_name=unit_name(clock.receiving_unit_code),
        applicant_name=clock.accepted.applicant.full_name,
        accepted_at=clock.accepted_at,
        appointment_at=clock.appointment_at,
        finished_at=clock.ended_at if clock.ending == "resolved" else None,
        outcome=clock.outcome.value if clock.outcome else None,
        rows=rows,
    )


def latest_apology(clock: DossierClock) -> Apology | None:
    return clock.apologies[-1] if clock.apologies else None


def apology_slip(clock: DossierClock, apology: Apology, procedure_name: str, unit_name: UnitName) -> ApologySlip:
    p = apology.payload
    reset = clock.reset is not None and clock.reset_at is not None and clock.reset_at >= apology.issued_at
    return ApologySlip(
        dossier_code=clock.code,
        procedure_code=clock.procedure_code,
        procedure_name=procedure_name,
        receiving_unit_code=clock.receiving_unit_code,
        receiving_unit_name=unit_name(clock.receiving_unit_code),
        applicant_name=clock.accepted.applicant.full_name,
        issued_at=apology.issued_at,
        original_appointment_at=p.appointment_at,
        proposed_appointment_at=p.proposed_appointment_at,
        reason=p.reason,
        responsible_unit_code=p.responsible_unit_code,
        responsible_unit_name=unit_name(p.responsible_unit_code),
        responsible_level=p.responsible_level,
        reset=reset,
        new_appointment_at=clock.reset.appointment_at if reset and clock.reset else None,
    )
