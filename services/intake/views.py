"""Dossier rows as the API shows them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import overload

from services.intake.domain import VN_TZ, DossierStatus
from services.intake.lifecycle import allowed_actions
from services.intake.schemas import DossierDetail, DossierPublic, TimelineItem
from services.intake.tables import Dossier, TimelineEntry
from shared.events.dossier import Channel, ResultDelivery

ACTION_PATHS = {
    "accept": "accept",
    "refuse": "refuse",
    "request_supplement": "supplement-requests",
    "supplement": "supplements",
    "set_financial_obligation": "financial-obligations",
    "pay": "payments",
    "withdraw": "withdraw",
    "stop": "stop",
    "return_result": "return",
}


@overload
def local(at: datetime) -> datetime: ...
@overload
def local(at: None) -> None: ...
def local(at: datetime | None) -> datetime | None:
    """Times are shown in Vietnam's time (+07:00), whether they come from a request or the database."""
    return at.astimezone(VN_TZ) if at is not None else None


def public(dossier: Dossier) -> DossierPublic:
    status = DossierStatus(dossier.status)
    base = f"/v1/dossiers/{dossier.code}"
    actions = [a.value for a in allowed_actions(status) if a.value in ACTION_PATHS]
    links = {"self": base, "receipt": f"{base}/receipt", "tracking": f"/track/{dossier.code}"}
    links.update({a: f"{base}/{ACTION_PATHS[a]}" for a in actions})
    return DossierPublic(
        code=dossier.code,
        status=status.value,
        status_code=status.code,
        procedure_code=dossier.procedure_code,
        procedure_name=dossier.procedure_name,
        receiving_unit_code=dossier.receiving_unit_code,
        receiving_unit_name=dossier.receiving_unit_name,
        channel=Channel(dossier.channel),
        result_delivery=ResultDelivery(dossier.result_delivery),
        received_at=local(dossier.received_at),
        accepted_at=local(dossier.accepted_at),
        appointment_at=local(dossier.appointment_at),
        original_appointment_at=local(dossier.original_appointment_at),
        external_id=dossier.external_id,
        commune_code=dossier.commune_code,
        allowed_actions=actions,
        links=links,
    )


def detail(dossier: Dossier, timeline: list[TimelineEntry]) -> DossierDetail:
    return DossierDetail(
        **public(dossier).model_dump(),
        applicant={
            "full_name": dossier.applicant_name,
            "id_number": dossier.applicant_id_number,
            "phone": dossier.applicant_phone,
            "email": dossier.applicant_email,
            "address": dossier.applicant_address,
            "notification_channels": (
                [c for c in dossier.notification_channels.split(",") if c]
                if dossier.notification_channels is not None
                else None
            ),
        },
        proxy=json.loads(dossier.proxy) if dossier.proxy else None,
        documents=json.loads(dossier.documents),
        status_reason=dossier.status_reason,
        tracking_number=dossier.tracking_number,
        timeline=[
            TimelineItem(
                type=e.type,
                occurred_at=local(e.occurred_at),
                status=e.status,
                status_code=DossierStatus(e.status).code if e.status else None,
                actor=e.actor,
                detail=json.loads(e.detail) if e.detail else None,
            )
            for e in timeline
        ],
    )
