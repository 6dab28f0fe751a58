"""Payloads of the dossier events intake publishes on ``intake.dossier.v1``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Channel(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    POSTAL = "postal"


class Contact(BaseModel):
    """How to reach the applicant. Personal ID numbers are not carried: no consumer needs them yet."""

    model_config = ConfigDict(extra="forbid")

    full_name: str
    phone: str | None = None
    email: str | None = None


class DossierAccepted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_code: str
    receiving_unit_code: str
    channel: Channel
    applicant: Contact
    received_at: AwareDatetime
    appointment_at: AwareDatetime | None = Field(
        default=None, description="Appointment for the result, when the procedure's time is known."
    )
