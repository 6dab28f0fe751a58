"""The catalogue's records: administrative units in each map of local government, and procedures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from pathlib import PurePath
from typing import Annotated, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
)

from shared.events.dossier import Channel

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# No hyphen: a dossier code is "{unit code}-{yyMMdd}-{NNNN}".
UnitCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]*(\.[A-Z0-9]+)*$")]
ProcedureCode = Annotated[str, StringConstraints(pattern=r"^\d\.\d{6}\.\d{3}\.\d{2}\.\d{2}\.H\d{2}$")]


class UnitMap(StrEnum):
    THREE_LEVEL = "three_level"  # province, district, commune: until 30 June 2025
    TWO_LEVEL = "two_level"  # province, commune: from 1 July 2025


class UnitLevel(StrEnum):
    COMMUNE = "commune"  # xã, phường, đặc khu
    DISTRICT = "district"  # huyện, quận, thị xã, thành phố thuộc tỉnh
    PROVINCE = "province"
    DEPARTMENT = "department"  # sở, or a district's phòng chuyên môn
    SERVICE_CENTER = "service_center"  # Trung tâm Phục vụ hành chính công
    LAND_OFFICE = "land_office"  # Chi nhánh Văn phòng đăng ký đất đai
    TAX = "tax"
    SOCIAL_INSURANCE = "social_insurance"
    POLICE = "police"


TERRITORIAL_LEVELS = frozenset({UnitLevel.COMMUNE, UnitLevel.DISTRICT, UnitLevel.PROVINCE})
# Sector units split the communes among themselves: in each map, every commune is served by exactly one
# unit of each sector level the map has (checks.py, sector_coverage).
SECTOR_LEVELS = frozenset({UnitLevel.LAND_OFFICE, UnitLevel.TAX, UnitLevel.SOCIAL_INSURANCE, UnitLevel.POLICE})


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Validity(_Record):
    valid_from: date | None = None
    valid_to: date | None = Field(default=None, description="Exclusive: the first day it no longer holds.")

    @field_validator("valid_to")
    @classmethod
    def _after_start(cls, valid_to: date | None, info: ValidationInfo) -> date | None:
        valid_from = info.data.get("valid_from")
        if valid_to is not None and valid_from is not None and valid_to <= valid_from:
            raise ValueError(f"valid_to must be after valid_from ({valid_from})")
        return valid_to

    def holds_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)

    def overlaps(self, other: Validity) -> bool:
        starts_before_other_ends = self.valid_from is None or other.valid_to is None or self.valid_from < other.valid_to
        ends_after_other_starts = self.valid_to is None or other.valid_from is None or other.valid_from < self.valid_to
        return starts_before_other_ends and ends_after_other_starts


T = TypeVar("T")


def _unique(items: tuple[T, ...]) -> tuple[T, ...]:
    if len(set(items)) != len(items):
        raise ValueError("items must not repeat")
    return items


class Unit(Validity):
    code: UnitCode
    name: Text
    level: UnitLevel
    # validate_default: the rule below must also run when the key is left out, not only on `parent: null`.
    parent: UnitCode | None = Field(default=None, validate_default=True)
    maps: tuple[UnitMap, ...] = Field(min_length=1)
    serves: tuple[UnitCode, ...] = Field(
        default=(),
        description=(
            "Communes served (sector units only). Empty: every commune of the map under the unit's nearest "
            "territorial ancestor (district or province), looking past parents that are not territorial."
        ),
    )

    @field_validator("parent")
    @classmethod
    def _parent_by_level(cls, parent: str | None, info: ValidationInfo) -> str | None:
        # Runs on the default too (validate_default), so a left-out parent is reported like `parent: null`.
        level = info.data.get("level")
        if level is UnitLevel.PROVINCE and parent is not None:
            raise ValueError("a province has no parent")
        if level is not None and level is not UnitLevel.PROVINCE and parent is None:
            raise ValueError(f"a {level} unit needs a parent")
        return parent

    @field_validator("maps")
    @classmethod
    def _maps_unique(cls, maps: tuple[UnitMap, ...]) -> tuple[UnitMap, ...]:
        return _unique(maps)

    @field_validator("serves")
    @classmethod
    def _serves_only_for_sector_units(cls, serves: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if serves and info.data.get("level") in TERRITORIAL_LEVELS:
            raise ValueError(f"a {info.data['level']} unit serves its own area; 'serves' is for sector units")
        return _unique(serves)


class TimeUnit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class StatutoryTime(_Record):
    amount: float = Field(gt=0, allow_inf_nan=False)
    unit: TimeUnit


SameDay = Literal["same_day"]


def _statutory_form(value: object) -> str:
    return "same_day" if isinstance(value, str) else "time"


Statutory = Annotated[
    Annotated[StatutoryTime, Tag("time")] | Annotated[SameDay, Tag("same_day")], Discriminator(_statutory_form)
]


class ProcedureKind(StrEnum):
    ONE_STOP = "one_stop"
    INTERCONNECTED = "interconnected"


class ResultDelivery(StrEnum):
    DESK = "desk"
    POSTAL = "postal"
    ONLINE = "online"


class OnlineLevel(StrEnum):
    FULL = "full"  # toàn trình
    PARTIAL = "partial"  # một phần
    NONE = "none"


class PostalService(_Record):
    model_config = ConfigDict(populate_by_name=True)

    submit: bool
    return_: bool = Field(alias="return")


class Document(_Record):
    name: Text
    copies: int = Field(default=1, ge=1)
    original_required: bool = False
    note: Text | None = None


class Fee(_Record):
    name: Text
    amount_vnd: int = Field(ge=0)
    note: Text | None = None


class Procedure(Validity):
    code: ProcedureCode
    name: Text
    field: Text
    statutory: Statutory
    kind: ProcedureKind
    received_at: Mapping[UnitMap, tuple[UnitLevel, ...]] = Field(min_length=1)
    channels: tuple[Channel, ...] = Field(min_length=1)
    postal: PostalService
    result_delivery: tuple[ResultDelivery, ...] = Field(min_length=1)
    online_level: OnlineLevel
    documents: tuple[Document, ...] = Field(min_length=1)
    fees: tuple[Fee, ...] = ()

    @field_validator("received_at")
    @classmethod
    def _levels_listed(
        cls, received_at: Mapping[UnitMap, tuple[UnitLevel, ...]]
    ) -> Mapping[UnitMap, tuple[UnitLevel, ...]]:
        for levels in received_at.values():
            if not levels:
                raise ValueError("each map lists at least one level")
            _unique(levels)
        return received_at

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        return _unique(channels)

    @field_validator("postal")
    @classmethod
    def _postal_matches_channels(cls, postal: PostalService, info: ValidationInfo) -> PostalService:
        channels = info.data.get("channels")
        if channels is not None and (Channel.POSTAL in channels) != postal.submit:
            raise ValueError("postal.submit must be true exactly when 'postal' is among the channels")
        return postal

    @field_validator("result_delivery")
    @classmethod
    def _delivery_matches_postal(
        cls, delivery: tuple[ResultDelivery, ...], info: ValidationInfo
    ) -> tuple[ResultDelivery, ...]:
        postal = info.data.get("postal")
        if postal is not None and (ResultDelivery.POSTAL in delivery) != postal.return_:
            raise ValueError("'postal' must be a result delivery exactly when postal.return is true")
        return _unique(delivery)

    @field_validator("online_level")
    @classmethod
    def _online_matches_channels(cls, level: OnlineLevel, info: ValidationInfo) -> OnlineLevel:
        channels = info.data.get("channels")
        if channels is not None and (Channel.ONLINE in channels) != (level is not OnlineLevel.NONE):
            raise ValueError("online_level is 'none' exactly when 'online' is not among the channels")
        return level

    @property
    def same_day(self) -> bool:
        """Giải quyết ngay / trong ngày: decided the day it is received."""
        return self.statutory == "same_day"


class Manifest(_Record):
    """``catalog.yaml``: what holds for the whole catalogue."""

    version: Literal[1]
    maps: Mapping[UnitMap, Validity] = Field(min_length=1)
    calendar_overrides: Text | None = Field(
        default=None, description="Path of a JSON file of calendar overrides, relative to the catalogue directory."
    )

    @field_validator("calendar_overrides")
    @classmethod
    def _relative(cls, path: str | None) -> str | None:
        if path is not None and PurePath(path).is_absolute():
            raise ValueError(f"a path relative to the catalogue directory, not {path}")
        return path

    @field_validator("maps")
    @classmethod
    def _maps_do_not_overlap(cls, maps: Mapping[UnitMap, Validity]) -> Mapping[UnitMap, Validity]:
        periods = list(maps.items())
        for i, (name, period) in enumerate(periods):
            for other_name, other in periods[i + 1 :]:
                if period.overlaps(other):
                    raise ValueError(f"maps {name} and {other_name} overlap: one map holds on any day")
        return maps
