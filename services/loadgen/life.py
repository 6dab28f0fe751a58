"""One dossier's life through the public APIs, as the people around it would live it: the citizen files
(portal, desk or post), the desk accepts or refuses, each unit takes and completes its step after a human
pause, some ask for a supplement or a fee the citizen then provides, some citizens withdraw, and the result
is handed over at the desk or by post."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.loadgen.client import Api, LoadError
from services.loadgen.mix import DossierPlan, Fate

OPEN_STEPS = ("assigned", "accepted", "paused_for_citizen")


@dataclass
class Outcome:
    index: int
    fate: Fate
    code: str | None = None
    status: str | None = None  # intake's final status, as the generator last read it
    filed_at: float = 0.0
    finished_at: float | None = None
    steps: int = 0
    error: str | None = None
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == self.fate.value


class Life:
    def __init__(self, api: Api, plan: DossierPlan, run_id: str, *, poll_s: float = 0.5) -> None:
        self.api = api
        self.plan = plan
        self.run_id = run_id
        self.poll_s = poll_s
        self.outcome = Outcome(plan.index, plan.fate)
        self._pauses = 0
        self._actions = 0

    # ---- helpers ----------------------------------------------------------------------------------

    async def think(self) -> None:
        await asyncio.sleep(self.plan.think_s(self._pauses))
        self._pauses += 1

    def _idem(self, what: str) -> str:
        self._actions += 1
        return f"load-{self.run_id}-{self.plan.index}-{self._actions}-{what}"

    async def _intake(self, action: str, body: dict[str, Any], *, portal: bool = False) -> Any:
        e = self.api.endpoints
        path = f"/v1/dossiers/{self.outcome.code}/{action}"
        key = e.portal_key if portal else e.admin_key
        self.outcome.events.append(action)
        return await self.api.post_json("intake", path, body, key=key, idempotency_key=self._idem(action))

    async def _step(self, step_id: str, action: str, body: dict[str, Any]) -> Any:
        self.outcome.events.append(f"step:{action}")
        e = self.api.endpoints
        return await self.api.post_json(
            "routing", f"/v1/steps/{step_id}/{action}", body, key=e.admin_key, idempotency_key=self._idem(action)
        )

    async def _dossier(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.api.get_json(
            "intake", f"/v1/dossiers/{self.outcome.code}", key=self.api.endpoints.admin_key
        )
        self.outcome.status = body["status"]
        return body

    async def _until_status(self, *statuses: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = await self._dossier()
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise LoadError(f"{self.outcome.code} stayed {body['status']}, expected {'/'.join(statuses)}")
            await asyncio.sleep(self.poll_s)

    async def _route(self, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            route = await self.api.get_json(
                "routing", f"/v1/dossiers/{self.outcome.code}/route", key=self.api.endpoints.admin_key, missing_ok=True
            )
            if route is not None:
                return dict(route)
            if time.monotonic() > deadline:
                raise LoadError(f"routing never planned {self.outcome.code}")
            await asyncio.sleep(self.poll_s)

    # ---- the life ---------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        try:
            await self._live()
            self.outcome.finished_at = time.monotonic()
        except LoadError as exc:
            self.outcome.error = str(exc)
        return self.outcome

    async def _live(self) -> None:
        plan = self.plan
        await self._file()
        if plan.submitted_first:
            await self.think()
            if plan.fate is Fate.REFUSED:
                await self._intake("refuse", {"reason": "Hồ sơ không thuộc thẩm quyền giải quyết của đơn vị"})
                self.outcome.status = Fate.REFUSED.value
                return
            await self._intake("accept", {})
        await self._walk_route()
        if plan.fate is Fate.WITHDRAWN:
            await self._until_status("withdrawn")
            return
        await self._until_status("resolved", "returned")
        if plan.result_delivery != "postal":  # by post: the operator delivers and reports it to intake
            await self.think()
            await self._intake("return", {})
        await self._until_status("returned")

    async def _file(self) -> None:
        plan, e = self.plan, self.api.endpoints
        a = plan.applicant
        body = {
            "procedure_code": plan.offer.procedure_code,
            "receiving_unit_code": plan.offer.unit_code,
            "channel": plan.channel,
            "result_delivery": plan.result_delivery,
            "applicant": {
                "full_name": a.full_name,
                "id_number": a.id_number,
                "phone": a.phone,
                "email": a.email,
                "address": a.address,
            },
            "documents": [{"name": "Tờ khai theo mẫu", "copies": 1}],
            "external_id": f"load-{self.run_id}-{plan.index}",
        }
        key = e.portal_key if plan.submitted_first else e.admin_key
        started = time.monotonic()
        self.outcome.filed_at = started
        answer = await self.api.post_json(
            "intake", "/v1/dossiers", body, key=key, idempotency_key=f"load-{self.run_id}-{plan.index}-file"
        )
        self.api.stats.filing_ms.append((time.monotonic() - started) * 1000)
        self.outcome.code = answer["code"]
        self.outcome.status = answer["status"]

    async def _walk_route(self) -> None:
        plan = self.plan
        done_supplement = done_payment = False
        n = 0
        while True:
            route = await self._route()
            if route["status"] != "open":
                return
            step = next((s for s in route["steps"] if s["status"] in OPEN_STEPS), None)
            if step is None:  # between two steps: routing is handing over
                await asyncio.sleep(self.poll_s)
                continue
            if plan.fate is Fate.WITHDRAWN and n == plan.withdraw_at_step:
                await self.think()
                await self._intake("withdraw", {"reason": "Công dân không còn nhu cầu"}, portal=plan.submitted_first)
                return
            if step["status"] == "assigned":
                await self._accept(step)
            elif step["status"] == "paused_for_citizen":
                await asyncio.sleep(self.poll_s)
                continue
            if n == plan.supplement_at_step and not done_supplement:
                done_supplement = True
                await self._citizen_supplies(step, "request-supplement", "supplements")
                continue
            if n == plan.payment_at_step and not done_payment:
                done_payment = True
                await self._citizen_supplies(step, "financial-obligation", "payments")
                continue
            await self.think()
            await self._step(step["step_id"], "complete", {"outcome": "approved", "note": "Đủ điều kiện"})
            self.outcome.steps += 1
            n += 1

    async def _accept(self, step: dict[str, Any]) -> None:
        """Take the step once it is handed over, after a human pause from then. Handovers fall on whole minutes:
        pausing before waiting for it had every unit take its steps at the same instant, once a minute."""
        while True:
            assigned = datetime.fromisoformat(step["assigned_at"]) if step.get("assigned_at") else None
            wait = (assigned - datetime.now(UTC)).total_seconds() if assigned else 0.0
            if wait > 0:
                await asyncio.sleep(min(wait + 0.05, 120))
            await self.think()
            response = await self.api.call(
                "POST",
                "routing",
                f"/v1/steps/{step['step_id']}/accept",
                key=self.api.endpoints.admin_key,
                body={},
                idempotency_key=self._idem("accept"),
                expect=(200, 409),
            )
            if response.status_code == 200:
                self.outcome.events.append("step:accept")
                return
            problem = response.json()
            if "available_from" not in problem:
                raise LoadError(f"accept {step['step_id']}: {problem.get('detail')}")
            step = {**step, "assigned_at": problem["available_from"]}

    async def _citizen_supplies(self, step: dict[str, Any], unit_action: str, citizen_action: str) -> None:
        """The unit asks (a supplement, or a fee or tax), the citizen answers at intake, the step resumes."""
        await self.think()
        if unit_action == "request-supplement":
            body: dict[str, Any] = {"items": ["Bản sao giấy tờ tùy thân"], "reason": "Bản chụp không rõ"}
        else:
            body = {"items": ["Lệ phí cấp giấy chứng nhận"], "amount_vnd": 100_000, "reason": "Nghĩa vụ tài chính"}
        await self._step(step["step_id"], unit_action, body)
        await self._until_status("supplement_requested", "financial_obligation")
        await self.think()
        if citizen_action == "supplements":
            await self._intake("supplements", {"items": ["Bản sao giấy tờ tùy thân"]})
        else:
            await self._intake("payments", {"receipt_reference": f"BL-{self.run_id}-{self.plan.index}"})
