"""Request and response bodies of intake's API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from shared.events.dossier import Channel

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


Phone = Annotated[str, Field(max_length=20, examples=["0912345678"]), AfterValidator(vietnamese_phone)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ApplicantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Name = Field(examples=["Nguyễn Văn An"])
    phone: Phone | None = None
    email: EmailStr | None = Field(default=None, max_length=254, examples=["an.nguyen@example.vn"])


class DossierCreate(BaseModel):
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
                        "phone": "0912345678",
                        "email": "an.nguyen@example.vn",
                    },
                }
            ]
        },
    )

    procedure_code: Code
    receiving_unit_code: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9][A-Z0-9.\-]{0,39}$")
    ]
    channel: Channel
    applicant: ApplicantIn


class DossierPublic(BaseModel):
    code: str
    status: str
    status_code: int
    procedure_code: str
    receiving_unit_code: str
    channel: Channel
    received_at: datetime
    appointment_at: datetime | None
    links: dict[str, str]
