"""Payloads of the dossier events intake publishes on ``intake.dossier.v1``.

Every event's envelope ``occurred_at`` is the time of the business action (back-dated on imports).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Channel(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    POSTAL = "postal"


class ResultDelivery(StrEnum):
    DESK = "desk"
    POSTAL = "postal"
    ONLINE = "online"


class TimeUnit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class NotificationChannel(StrEnum):
    SMS = "sms"
    ZALO = "zalo"
    EMAIL = "email"


class Contact(BaseModel):
    """How to reach the applicant. Personal ID numbers are not carried: no consumer needs them."""

    model_config = ConfigDict(extra="forbid")

    full_name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    notification_channels: list[NotificationChannel] | None = Field(
        default=None,
        description="The channels the applicant agreed to be told on, in the order they prefer; none given: "
        "SMS, Zalo, email, wherever they have an address. An empty list: no messages.",
    )


class StatutoryTime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0)
    unit: TimeUnit


class DossierSubmitted(BaseModel):
    """Filed online or by post, not yet accepted by a desk (status 1)."""

    model_config = ConfigDict(extra="forbid")

    procedure_code: str
    receiving_unit_code: str
    channel: Channel
    applicant: Contact
    result_delivery: ResultDelivery = ResultDelivery.DESK
    submitted_at: AwareDatetime


class DossierAccepted(BaseModel):
    """A complete dossier was accepted; receipt and appointment issued (status 2)."""

    model_config = ConfigDict(extra="forbid")

    procedure_code: str
    receiving_unit_code: str
    channel: Channel
    applicant: Contact
    received_at: AwareDatetime
    clock_starts_at: AwareDatetime | None = Field(
        default=None, description="Acceptance, or the next working day's start when accepted after 15:00."
    )
    appointment_at: AwareDatetime | None = Field(
        default=None, description="Appointment for the result, when the procedure's time is known."
    )
    statutory: StatutoryTime | None = None
    result_delivery: ResultDelivery = ResultDelivery.DESK
    interconnected: bool = False
    commune_code: str | None = Field(
        default=None,
        description="The commune the dossier concerns (where the land lies, where the applicant resides); "
        "routing resolves the units of an interconnected route from it.",
    )


class DossierRefused(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str


class SupplementRequested(BaseModel):
    """The clock pauses until the citizen supplies the items."""

    model_config = ConfigDict(extra="forbid")

    items: list[str]
    reason: str
    before_acceptance: bool = False
    requested_by_unit_code: str | None = Field(
        default=None, description="The processing unit that asked for it through routing; none when the desk did."
    )


class DossierSupplemented(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(default_factory=list)


class FinancialObligationSet(BaseModel):
    """Fees or land tax are due; the clock pauses until payment."""

    model_config = ConfigDict(extra="forbid")

    items: list[str]
    amount_vnd: int | None = Field(default=None, ge=0)
    reason: str = ""
    requested_by_unit_code: str | None = Field(
        default=None, description="The unit (e.g. tax) that issued the notice through routing; none when the desk did."
    )


class DossierPaid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt_reference: str | None = None


class DossierWithdrawn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str


class DossierStopped(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str


class ResultReturned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery: ResultDelivery
    note: str = ""
