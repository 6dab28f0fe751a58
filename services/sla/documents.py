"""What sla's documents hold, apart from how they are rendered (report_export.py, slip_pdf.py):
the quarterly report, the process control slip and the apology slip. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.catalog.models import UnitLevel

RESPONSIBLE_LEVELS: tuple[str, ...] = (*(level.value for level in UnitLevel), "citizen", "interconnection")
"""Who a late dossier is attributed to: a unit's level, the citizen, or the interconnection between systems."""

LEVEL_NAMES_VI: dict[str, str] = {
    "commune": "Cấp xã",
    "district": "Cấp huyện",
    "province": "Cấp tỉnh",
    "department": "Sở, ngành, phòng chuyên môn",
    "service_center": "Trung tâm Phục vụ hành chính công",
    "land_office": "Văn phòng đăng ký đất đai",
    "tax": "Cơ quan thuế",
    "social_insurance": "Bảo hiểm xã hội",
    "police": "Công an",
    "citizen": "Công dân",
    "interconnection": "Lỗi liên thông",
}


@dataclass
class UnitFigures:
    """One unit's line of the report: dossiers it received, counted per field."""

    unit_code: str
    unit_name: str = ""
    carried_over: int = 0
    received_in_person: int = 0
    received_online: int = 0
    received_postal: int = 0
    resolved_early: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    returned: int = 0
    withdrawn: int = 0
    stopped: int = 0
    in_progress_on_time: int = 0
    in_progress_overdue: int = 0
    paused: int = 0
    late_by_level: dict[str, int] = field(default_factory=dict)
    """Resolved late in the period or overdue at its end, by the responsible party's level."""
    late_by_unit: dict[str, int] = field(default_factory=dict)
    """The same dossiers by the responsible unit's code ('citizen' and 'interconnection' as such)."""
    apologies_issued: int = 0

    @property
    def received(self) -> int:
        return self.received_in_person + self.received_online + self.received_postal

    @property
    def resolved(self) -> int:
        return self.resolved_early + self.resolved_on_time + self.resolved_late

    @property
    def in_progress(self) -> int:
        return self.in_progress_on_time + self.in_progress_overdue


@dataclass
class Report:
    """The report of a period: [from_at, to_at) as the state stood at as_of (≤ to_at)."""

    from_at: datetime
    to_at: datetime
    as_of: datetime
    period: str | None
    window: str
    outcome_by: str
    units: list[UnitFigures]
    total: UnitFigures


@dataclass
class ControlSlipRow:
    """One handover: the step a unit received, and how it finished against its own deadline."""

    seq: int
    attempt: int
    step_name: str
    handing_over_unit_code: str | None
    handing_over_unit_name: str
    receiving_unit_code: str
    receiving_unit_name: str
    receiving_unit_level: str
    handed_over_at: datetime
    accepted_at: datetime | None
    deadline_at: datetime | None
    finished_at: datetime | None
    result: str | None
    """'early', 'on_time', 'late' once finished; None while open or for a step without deadline."""
    counts: bool
    paused_minutes: int
    interconnection_minutes: int
    overrun_minutes: int
    """Working minutes past the step's budget charged to the receiving unit."""
    interconnection_overrun_minutes: int
    """Working minutes past the step's budget charged to a failed or unacknowledged handover."""
    note: str = ""


@dataclass
class ControlSlip:
    """Phiếu kiểm soát quá trình giải quyết hồ sơ."""

    dossier_code: str
    procedure_code: str
    procedure_name: str
    receiving_unit_code: str
    receiving_unit_name: str
    applicant_name: str
    accepted_at: datetime
    appointment_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    rows: list[ControlSlipRow]


@dataclass
class ApologySlip:
    """Phiếu xin lỗi và hẹn lại ngày trả kết quả (đề nghị gia hạn thời gian giải quyết)."""

    dossier_code: str
    procedure_code: str
    procedure_name: str
    receiving_unit_code: str
    receiving_unit_name: str
    applicant_name: str
    issued_at: datetime
    original_appointment_at: datetime
    proposed_appointment_at: datetime
    reason: str
    responsible_unit_code: str
    responsible_unit_name: str
    responsible_level: str
    reset: bool
    """Whether the new appointment has been set (it may be only once)."""
    new_appointment_at: datetime | None = None
