"""Legacy dossiers with their history, as ``lienthong import`` and ``POST /v1/dossiers:import`` take them.

The format is NDJSON: one JSON object per line (per item of ``{"dossiers": [...]}`` over HTTP) with

- the fields of a new dossier (``DossierCreate``): ``procedure_code``, ``receiving_unit_code``,
  ``channel``, ``applicant``, ``proxy``, ``documents``, ``result_delivery``;
- ``external_id`` (required): the legacy system's id. A dossier whose ``external_id`` was already
  imported (or filed by any key) is skipped, so an import can simply be run again;
- ``history`` (required): the actions that happened to the dossier, oldest first. Each is
  ``{"action": …, "occurred_at": …}`` plus the fields that action's request body takes:

  ========================== ===========================================================
  action                     fields (as in the live API's request body)
  ========================== ===========================================================
  submit                     — (filed from a portal: status 1, waiting for a desk)
  accept                     — (the first action: filed at the desk; later: accepted)
  refuse                     reason
  request_supplement         items, reason
  supplement                 items (optional)
  set_financial_obligation   items, amount_vnd (optional), reason (optional)
  pay                        receipt_reference (optional)
  withdraw                   reason
  stop                       reason
  return_result              delivery (optional), note (optional)
  ========================== ===========================================================

  ``occurred_at`` is a timezone-aware ISO 8601 time. The first action is ``submit`` or ``accept``;
  times never go backwards and are not in the future; each action must be allowed in the status the
  previous ones led to (resolving comes from routing, so a legacy history cannot return a result).

Example line::

    {"external_id": "MC-2024-000123", "procedure_code": "1.004873.000.00.00.H56",
     "receiving_unit_code": "H56.14.01", "channel": "online",
     "applicant": {"full_name": "Nguyễn Văn An", "phone": "0912345678"},
     "history": [{"action": "submit", "occurred_at": "2024-05-06T08:10:00+07:00"},
                 {"action": "accept", "occurred_at": "2024-05-06T15:20:00+07:00"},
                 {"action": "request_supplement", "occurred_at": "2024-05-07T09:00:00+07:00",
                  "items": ["Bản sao CCCD"], "reason": "Thiếu bản sao"},
                 {"action": "supplement", "occurred_at": "2024-05-08T10:00:00+07:00"}]}

This module holds the format and the rules a history must follow; no I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema

from services.intake.domain import DossierStatus
from services.intake.lifecycle import Action, IllegalTransition, transition
from services.intake.schemas import (
    AcceptIn,
    DossierCreate,
    FinancialObligationIn,
    ItemsIn,
    PaymentIn,
    ReasonIn,
    ReturnIn,
    SupplementsIn,
)

FieldError = dict[str, str]
MAX_HISTORY = 200
MAX_IMPORT = 500


class LegacyAction(StrEnum):
    SUBMIT = "submit"
    ACCEPT = Action.ACCEPT.value
    REFUSE = Action.REFUSE.value
    REQUEST_SUPPLEMENT = Action.REQUEST_SUPPLEMENT.value
    SUPPLEMENT = Action.SUPPLEMENT.value
    SET_FINANCIAL_OBLIGATION = Action.SET_FINANCIAL_OBLIGATION.value
    PAY = Action.PAY.value
    WITHDRAW = Action.WITHDRAW.value
    STOP = Action.STOP.value
    RETURN_RESULT = Action.RETURN_RESULT.value


class SubmitStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal[LegacyAction.SUBMIT]
    occurred_at: AwareDatetime


# Each later step *is* the live request body with a required time, so replay passes it on as it is.
class AcceptStep(AcceptIn):
    action: Literal[LegacyAction.ACCEPT]
    occurred_at: AwareDatetime


class RefuseStep(ReasonIn):
    action: Literal[LegacyAction.REFUSE]
    occurred_at: AwareDatetime


class RequestSupplementStep(ItemsIn):
    action: Literal[LegacyAction.REQUEST_SUPPLEMENT]
    occurred_at: AwareDatetime


class SupplementStep(SupplementsIn):
    action: Literal[LegacyAction.SUPPLEMENT]
    occurred_at: AwareDatetime


class FinancialObligationStep(FinancialObligationIn):
    action: Literal[LegacyAction.SET_FINANCIAL_OBLIGATION]
    occurred_at: AwareDatetime


class PayStep(PaymentIn):
    action: Literal[LegacyAction.PAY]
    occurred_at: AwareDatetime


class WithdrawStep(ReasonIn):
    action: Literal[LegacyAction.WITHDRAW]
    occurred_at: AwareDatetime


class StopStep(ReasonIn):
    action: Literal[LegacyAction.STOP]
    occurred_at: AwareDatetime


class ReturnStep(ReturnIn):
    action: Literal[LegacyAction.RETURN_RESULT]
    occurred_at: AwareDatetime


HistoryStep = Annotated[
    SubmitStep
    | AcceptStep
    | RefuseStep
    | RequestSupplementStep
    | SupplementStep
    | FinancialObligationStep
    | PayStep
    | WithdrawStep
    | StopStep
    | ReturnStep,
    Field(discriminator="action"),
]

EXAMPLE: dict[str, Any] = {
    "external_id": "MC-2024-000123",
    "procedure_code": "1.004873.000.00.00.H56",
    "receiving_unit_code": "H56.14.01",
    "channel": "online",
    "applicant": {"full_name": "Nguyễn Văn An", "phone": "0912345678", "email": "an.nguyen@example.vn"},
    "documents": [{"name": "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", "copies": 1}],
    "result_delivery": "desk",
    "history": [
        {"action": "submit", "occurred_at": "2024-05-06T08:10:00+07:00"},
        {"action": "accept", "occurred_at": "2024-05-06T15:20:00+07:00"},
        {
            "action": "request_supplement",
            "occurred_at": "2024-05-07T09:00:00+07:00",
            "items": ["Bản sao CCCD"],
            "reason": "Thiếu bản sao CCCD",
        },
        {"action": "supplement", "occurred_at": "2024-05-08T10:00:00+07:00", "items": ["Bản sao CCCD"]},
    ],
}


class LegacyDossier(DossierCreate):
    """A dossier of the legacy system with its history (see this module's docstring)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    history: list[HistoryStep] = Field(min_length=1, max_length=MAX_HISTORY)
    occurred_at: SkipJsonSchema[None] = None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _time_is_per_action(cls, value: object) -> None:
        if value is not None:
            raise ValueError("give occurred_at on each history action, not on the dossier")

    def to_create(self) -> DossierCreate:
        """The live API's request for the first action: same fields, at the first action's time."""
        fields = {name: getattr(self, name) for name in DossierCreate.model_fields if name != "occurred_at"}
        return DossierCreate.model_validate({**fields, "occurred_at": self.history[0].occurred_at})


class ImportBatch(BaseModel):
    """Several legacy dossiers in one request; each is imported, skipped or rejected on its own."""

    model_config = ConfigDict(extra="forbid")

    dossiers: list[LegacyDossier] = Field(min_length=1, max_length=MAX_IMPORT)


def as_batch(value: Any) -> list[Any]:
    """A request's dossiers, each still unvalidated, so that a bad one is rejected alone, not the request."""
    if isinstance(value, dict) and "dossiers" in value:
        if set(value) != {"dossiers"}:
            raise ValueError("a batch has only the member 'dossiers'")
        items = value["dossiers"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_IMPORT:
            raise ValueError(f"'dossiers' is a list of 1 to {MAX_IMPORT} legacy dossiers")
        return items
    if isinstance(value, dict):
        return [value]
    raise ValueError('the body is one legacy dossier or {"dossiers": [...]}')


def _error(field: str, reason: str) -> FieldError:
    return {"source": "body", "field": field, "reason": reason}


_TAGS = {a.value for a in LegacyAction}


def validation_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as the API's field errors, with ``history.<n>.<field>`` paths."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if len(loc) > 2 and loc[0] == "history" and loc[2] in _TAGS:
            del loc[2]  # the union's tag: the step's action is already in the path's meaning
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append("action")
            tag = err.get("ctx", {}).get("tag")
            given = f"unknown action {tag!r}" if err["type"] == "union_tag_invalid" else "required"
            reason = f"{given}; one of: {', '.join(a.value for a in LegacyAction)}"
        out.append(_error(".".join(loc) or "(root)", reason))
    return out


def history_errors(history: Sequence[HistoryStep], now: datetime) -> list[FieldError]:
    """What makes a history impossible: its first action, its times, or a step its status forbids."""
    errors: list[FieldError] = []
    first = history[0]
    if first.action not in (LegacyAction.SUBMIT, LegacyAction.ACCEPT):
        errors.append(_error("history.0.action", f"the first action must be submit or accept, not {first.action}"))
    for n, step in enumerate(history):
        if step.occurred_at > now:
            errors.append(_error(f"history.{n}.occurred_at", "must not be in the future"))
        if n and step.occurred_at < history[n - 1].occurred_at:
            errors.append(
                _error(
                    f"history.{n}.occurred_at",
                    f"earlier than the previous action ({history[n - 1].occurred_at.isoformat()})",
                )
            )
        if n and step.action is LegacyAction.SUBMIT:
            errors.append(_error(f"history.{n}.action", "submit can only be the first action"))
    if errors:
        return errors
    status = DossierStatus.ACCEPTED if first.action is LegacyAction.ACCEPT else DossierStatus.SUBMITTED
    paused_from: DossierStatus | None = None
    for n, step in enumerate(history[1:], start=1):
        try:
            moved = transition(status, Action(step.action.value), paused_from)
        except IllegalTransition as exc:
            return [_error(f"history.{n}.action", str(exc))]
        status, paused_from = moved.status, moved.paused_from
    return []


def parse_legacy(raw: object, now: datetime) -> LegacyDossier | list[FieldError]:
    """One legacy dossier, or why it cannot be imported (before any catalogue or database look-up)."""
    try:
        dossier = LegacyDossier.model_validate(raw)
    except ValidationError as exc:
        return validation_errors(exc)
    return history_errors(dossier.history, now) or dossier


def external_id_of(raw: object) -> str | None:
    """The external id of an item, even one that is rejected, for the report."""
    value = raw.get("external_id") if isinstance(raw, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None
