"""From a dossier row and its timeline to what the citizen holds: the receipt slip and the tracking view.

No I/O here: the catalogue lookups come in as plain functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from services.intake.domain import VN_TZ, DossierStatus
from services.intake.receipt import (
    Applicant,
    DocumentForm,
    DocumentItem,
    Proxy,
    ReceiptData,
    ReturnMethod,
    TimeUnit,
)
from services.intake.tables import Dossier, TimelineEntry
from services.intake.tracking_page import TrackingStep, TrackingView

UnitName = Callable[[str], str | None]

_RETURN = {"desk": ReturnMethod.AT_DESK, "postal": ReturnMethod.POST, "online": ReturnMethod.ONLINE}

# What each event means to the citizen. Events absent here (internal bookkeeping) are not shown.
_STEP_TEXT: dict[str, str] = {
    "dossier.submitted": "Đã nộp hồ sơ, chờ tiếp nhận",
    "dossier.accepted": "Đã tiếp nhận hồ sơ",
    "dossier.refused": "Từ chối tiếp nhận hồ sơ",
    "route.planned": "Hồ sơ được chuyển xử lý",
    "step.assigned": "Đã nhận hồ sơ chuyển đến để xử lý",
    "dossier.supplement_requested": "Yêu cầu bổ sung, hoàn thiện hồ sơ",
    "dossier.supplemented": "Công dân đã bổ sung hồ sơ",
    "dossier.financial_obligation_set": "Thông báo thực hiện nghĩa vụ tài chính",
    "dossier.paid": "Công dân đã thực hiện nghĩa vụ tài chính",
    "dossier.withdrawn": "Công dân rút hồ sơ",
    "dossier.stopped": "Dừng xử lý hồ sơ",
    "dossier.resolved": "Đã có kết quả giải quyết",
    "dossier.appointment_changed": "Hẹn lại ngày trả kết quả",
    "dossier.result_returned": "Đã trả kết quả cho công dân",
}


def tracking_book_number(dossier: Dossier) -> str:
    """ "12/2026": the line of the unit's tracking book (Sổ theo dõi hồ sơ) for the year of acceptance."""
    accepted = dossier.accepted_at or dossier.received_at
    return f"{dossier.tracking_number}/{accepted.astimezone(VN_TZ).year}"


def receipt_data(dossier: Dossier, parent_name: str, tracking_url: str, officer_name: str | None) -> ReceiptData:
    if dossier.appointment_at is None or dossier.accepted_at is None:
        raise ValueError("a receipt exists only for an accepted dossier")
    proxy: dict[str, Any] | None = json.loads(dossier.proxy) if dossier.proxy else None
    return ReceiptData(
        dossier_code=dossier.code,
        unit_code=dossier.receiving_unit_code,
        unit_name=dossier.receiving_unit_name,
        parent_name=parent_name,
        applicant=Applicant(
            full_name=dossier.applicant_name,
            id_number=dossier.applicant_id_number,
            address=dossier.applicant_address,
            phone=dossier.applicant_phone,
            email=dossier.applicant_email,
        ),
        proxy=Proxy(proxy["full_name"], proxy.get("id_number"), proxy.get("relationship")) if proxy else None,
        procedure_code=dossier.procedure_code,
        procedure_name=dossier.procedure_name,
        documents=tuple(
            DocumentItem(d["name"], int(d.get("copies", 1)), DocumentForm(d.get("form", "original")))
            for d in json.loads(dossier.documents)
        ),
        processing_time=dossier.statutory_amount or 0,
        processing_time_unit=TimeUnit(dossier.statutory_unit or "working_days"),
        received_at=dossier.accepted_at.astimezone(VN_TZ),
        # The slip shows the appointment given at acceptance; a reset one goes on the apology slip.
        appointment_at=(dossier.original_appointment_at or dossier.appointment_at).astimezone(VN_TZ),
        return_method=_RETURN[dossier.result_delivery],
        tracking_book_number=tracking_book_number(dossier),
        tracking_url=tracking_url,
        officer_name=officer_name,
    )


def phone_matches(dossier: Dossier, last4: str | None) -> bool | None:
    """None when nothing was given; otherwise whether the 4 digits end the applicant's phone."""
    if not last4:
        return None
    phone = dossier.applicant_phone
    return phone is not None and len(last4) == 4 and phone.endswith(last4)


def mask_phone(phone: str | None) -> str | None:
    return None if not phone else "•" * (len(phone) - 4) + phone[-4:]


def tracking_view(
    dossier: Dossier, timeline: Sequence[TimelineEntry], unit_name: UnitName, phone_last4: str | None
) -> TrackingView:
    steps = []
    for entry in timeline:
        text = _STEP_TEXT.get(entry.type)
        if text is None:
            continue
        detail: dict[str, Any] = json.loads(entry.detail) if entry.detail else {}
        if detail.get("ignored"):
            continue
        unit_code = detail.get("to_unit_code") or detail.get("unit") or dossier.receiving_unit_code
        steps.append(TrackingStep(entry.occurred_at, unit_name(unit_code) or unit_code, text))
    verified = phone_matches(dossier, phone_last4)
    status = DossierStatus(dossier.status)
    return TrackingView(
        code=dossier.code,
        procedure_name=dossier.procedure_name,
        unit_name=dossier.receiving_unit_name,
        status_code=status.code,
        received_at=dossier.accepted_at or dossier.received_at,
        appointment_at=dossier.appointment_at,
        original_appointment_at=dossier.original_appointment_at,
        steps=tuple(steps),
        verified=bool(verified),
        applicant_name=dossier.applicant_name if verified else None,
        phone_masked=mask_phone(dossier.applicant_phone) if verified else None,
        verification_failed=verified is False,
    )
