"""Request and response bodies of intake's API."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from shared.events.dossier import Channel, NotificationChannel, ResultDelivery
from shared.web.strings import NOT_BLANK

_MOBILE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE = re.compile(r"^02\d{9}$")


def vietnamese_phone(value: str) -> str:
    """Accept ``0912 345 678``, ``+84912345678``…; store the national form ``0912345678``."""
    digits = re.sub(r"[\s.\-()]", "", value)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if not (_MOBILE.match(digits) or _LANDLINE.match(digits)):
        raise ValueError("not a Vietnamese phone number (10-digit mobile 03x/05x/07x/08x/09x or 11-digit 02x landline)")
    return digits


def personal_id(value: str) -> str:
    """The 12-digit citizen identity number (CCCD): province of birth (3), sex and century (1), year (2)…"""
    if not re.fullmatch(r"[0-9]{12}", value):
        raise ValueError("a personal ID number has exactly 12 digits")
    if int(value[:3]) > 96:
        raise ValueError("a personal ID number starts with a province code 001–096")
    return value


# The documented pattern is the canonical form; spaces, dots, dashes and brackets between digits are also taken.
PHONE_PATTERN = r"^(\+?84|0)([35789]\d{8}|2\d{9})$"
Phone = Annotated[
    str,
    Field(max_length=20, examples=["0912345678"], json_schema_extra={"pattern": PHONE_PATTERN}),
    AfterValidator(vietnamese_phone),
]
# The documented pattern is what personal_id() takes: 12 ASCII digits, the first three a province code 000–096.
PERSONAL_ID_PATTERN = r"^(0[0-8][0-9]|09[0-6])[0-9]{9}$"
PersonalId = Annotated[
    str,
    Field(examples=["001203004567"], json_schema_extra={"pattern": PERSONAL_ID_PATTERN}),
    AfterValidator(personal_id),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=2000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=64)]
UnitCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9][A-Z0-9.\-]{0,39}$")]


class ApplicantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Name = Field(examples=["Nguyễn Văn An"])
    id_number: PersonalId | None = None
    phone: Phone | None = None
    email: EmailStr | None = Field(
        default=None,
        max_length=254,
        examples=["an.nguyen@example.vn"],
        description="An address mail can reach: a domain reserved for special use (.test, .local, .invalid, "
        "localhost and the like) is refused.",
    )
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    notification_channels: list[NotificationChannel] | None = Field(
        default=None,
        max_length=3,
        description="Channels the applicant agrees to be told on (SMS, Zalo, email), in the order they prefer. "
        "Left out: every channel they have an address for. An empty list: no messages.",
        examples=[["zalo", "email"]],
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("notification_channels")
    @classmethod
    def _distinct_channels(cls, channels: list[NotificationChannel] | None) -> list[NotificationChannel] | None:
        if channels is not None and len(set(channels)) != len(channels):
            raise ValueError("each channel may be named once")
        return channels


class ProxyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Name
    id_number: PersonalId | None = None
    phone: Phone | None = None
    relationship: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=300)]
    copies: int = Field(default=1, ge=1, le=100)


class BackDated(BaseModel):
    """``occurred_at`` may be given only with the ``import`` scope (legacy records and replays)."""

    occurred_at: AwareDatetime | None = None


class DossierCreate(BackDated):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "procedure_code": "1.003560.000.00.00.H56",
                    "receiving_unit_code": "H56.14",
                    "channel": "in_person",
                    "applicant": {
                        "full_name": "Nguyễn Văn An",
                        "id_number": "001203004567",
                        "phone": "0912345678",
                        "email": "an.nguyen@example.vn",
                        "address": "12 Lê Lợi, phường 1",
                    },
                    "documents": [{"name": "Tờ khai", "copies": 1}],
                    "result_delivery": "desk",
                }
            ]
        },
    )

    procedure_code: Code
    receiving_unit_code: UnitCode
    channel: Channel
    applicant: ApplicantIn
    proxy: ProxyIn | None = None
    documents: list[DocumentIn] = Field(default_factory=list, max_length=100)
    result_delivery: ResultDelivery = ResultDelivery.DESK
    commune_code: UnitCode | None = Field(
        default=None,
        description="The commune the dossier concerns (where the land lies, where the applicant resides). "
        "Required for an interconnected procedure received by a unit above the commune, whose route "
        "depends on the commune; a commune's own desk may leave it out.",
        examples=["H56.101"],
    )
    external_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=NOT_BLANK, max_length=100)] | None
    ) = None


class ReasonIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class AcceptIn(BackDated):
    model_config = ConfigDict(extra="forbid")


class ItemsIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    items: list[Text] = Field(min_length=1, max_length=50)
    reason: Text


class SupplementsIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    items: list[Text] = Field(default_factory=list, max_length=50)


class FinancialObligationIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    items: list[Text] = Field(min_length=1, max_length=50)
    amount_vnd: int | None = Field(default=None, ge=0, le=10**13)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class PaymentIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    receipt_reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None


class ReturnIn(BackDated):
    model_config = ConfigDict(extra="forbid")

    delivery: ResultDelivery | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class TimelineItem(BaseModel):
    type: str
    occurred_at: datetime
    status: str | None
    status_code: int | None
    actor: str | None
    detail: dict[str, Any] | None


class DossierPublic(BaseModel):
    code: str
    status: str
    status_code: int
    procedure_code: str
    procedure_name: str
    receiving_unit_code: str
    receiving_unit_name: str
    channel: Channel
    result_delivery: ResultDelivery
    received_at: datetime
    accepted_at: datetime | None
    appointment_at: datetime | None
    original_appointment_at: datetime | None
    external_id: str | None
    commune_code: str | None = None
    allowed_actions: list[str]
    links: dict[str, str]


class DossierDetail(DossierPublic):
    applicant: dict[str, Any]
    proxy: dict[str, Any] | None
    documents: list[dict[str, Any]]
    status_reason: str | None
    tracking_number: int | None
    timeline: list[TimelineItem]


class DossierPage(BaseModel):
    items: list[DossierPublic]
    next_cursor: str | None


class ImportOutcome(StrEnum):
    IMPORTED = "imported"
    ALREADY_IMPORTED = "already_imported"
    REJECTED = "rejected"


class ImportResult(BaseModel):
    """What became of one legacy dossier of an import request."""

    index: int = Field(description="Position of the dossier in the request, from 0")
    external_id: str | None
    outcome: ImportOutcome
    code: str | None = Field(default=None, description="The dossier's code: new, or the one imported before")
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Why it was rejected, field by field (as in problem+json `errors`)"
    )


class ImportCounts(BaseModel):
    imported: int = 0
    already_imported: int = 0
    rejected: int = 0


class ImportReport(BaseModel):
    results: list[ImportResult]
    counts: ImportCounts
