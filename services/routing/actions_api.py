"""The agencies' actions on a step over HTTP: thin, translating HTTP to the commands of actions.py.

Every POST takes ``Idempotency-Key`` (the first answer is returned again) and ``occurred_at`` only with
the ``import`` scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from services.routing import actions
from services.routing.context import Routing, routing_of
from services.routing.schemas import (
    AcceptIn,
    CompleteIn,
    FailureIn,
    FinancialObligationIn,
    SendBackIn,
    StepPublic,
    SupplementIn,
)
from services.routing.tables import Step
from services.routing.views import step_public
from shared.bus.unit_of_work import UnitOfWork
from shared.web.auth import CurrentPrincipal, Principal
from shared.web.deps import UnitsDep
from shared.web.idempotency import Idempotency, Outcome

router = APIRouter(prefix="/v1", tags=["steps"])

StepId = Annotated[str, Path(min_length=1, max_length=36)]
Body = TypeVar("Body", bound=BaseModel)
Action = Callable[[UnitOfWork, Routing, Principal, str, Body], Awaitable[Step]]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown API key"},
    403: {"description": "The step belongs to another unit, or occurred_at without the import scope"},
    404: {"description": "No such step"},
    409: {"description": "Not allowed in the step's status (`step_status`), or changed concurrently"},
    422: {"description": "Invalid body, field by field"},
    429: {"description": "Too many requests for this key"},
}


def _action_route(path: str, summary: str, description: str, body_type: type[Body], action: Action[Body]) -> None:
    async def endpoint(
        step_id: StepId, body: Body, request: Request, units: UnitsDep, principal: CurrentPrincipal, idem: Idempotency
    ) -> Response:
        routing = routing_of(request)

        async def command(uow: UnitOfWork) -> Outcome:
            step = await action(uow, routing, principal, step_id, body)
            return Outcome(200, step_public(step, routing, datetime.now(UTC)), {})

        return await idem.run(units, command)

    endpoint.__annotations__["body"] = body_type
    router.add_api_route(
        f"/steps/{{step_id}}/{path}",
        endpoint,
        methods=["POST"],
        response_model=StepPublic,
        responses=ERRORS,
        summary=summary,
        description=description,
        name=path,
    )


_action_route(
    "accept",
    "Acknowledge receipt of the step",
    "The unit confirms the handover reached it; the slip records the time.",
    AcceptIn,
    actions.accept,
)
_action_route(
    "complete",
    "Finish the step: the next unit gets it at once, or the dossier is resolved",
    "`approved` hands the dossier to the next step at this instant; after the last step, or on `rejected`, "
    "the dossier is resolved (status 9) with that outcome. The step's result (early, on time, late) compares "
    "the finish with its deadline by minute.",
    CompleteIn,
    actions.complete,
)
_action_route(
    "send-back",
    "Send the dossier back to an earlier step",
    "The earlier step (by `to_step_key` or `to_seq`) is assigned again as a new attempt, with a new row on "
    "the slip; the steps between run again after it.",
    SendBackIn,
    actions.send_back,
)
_action_route(
    "request-supplement",
    "Ask the citizen for a supplement: the step pauses",
    "The step waits for the citizen (paused_for_citizen) until intake records the supplement "
    "(`dossier.supplemented`); its deadline then moves out by the paused working time.",
    SupplementIn,
    actions.request_supplement,
)
_action_route(
    "financial-obligation",
    "Set a financial obligation (tax notice, fees): the step pauses",
    "The step waits for the citizen until intake records the payment (`dossier.paid`); its deadline then "
    "moves out by the paused working time.",
    FinancialObligationIn,
    actions.set_financial_obligation,
)
_action_route(
    "report-failure",
    "Report that the handover reached this unit broken or late",
    "Recorded on the handover's row of the slip and published as `handover.failed`, so time lost in the "
    "interconnection is told apart from the unit's own. Once per handover.",
    FailureIn,
    actions.report_failure,
)
