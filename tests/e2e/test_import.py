"""``lienthong import`` and ``POST /v1/dossiers:import`` against a running intake on a real broker and database."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from services.devstack import DevStack
from shared.events.envelope import Envelope
from tests.e2e.conftest import client, stack_config
from tests.support.infra import ROOT, Broker, fresh_database_url, new_namespace

pytestmark = pytest.mark.e2e

APPLICANT = {"full_name": "Lê Thị Hoa", "phone": "0912 345 678"}
STATUS_MARRIAGE = "1.004873.000.00.00.H56"  # 3 working days, received at communes in both maps
LAND = "1.012777.000.00.00.H56"  # 10 working days, interconnected
BIRTH = "1.001193.000.00.00.H56"  # same day

# A commune of the three-level map (valid until 1 July 2025) and the ward that replaced it.
LEGACY: list[dict[str, Any]] = [
    {
        "external_id": "LEG-1",
        "procedure_code": STATUS_MARRIAGE,
        "receiving_unit_code": "H56.14.01",
        "channel": "online",
        "applicant": APPLICANT,
        "history": [
            {"action": "submit", "occurred_at": "2024-05-13T08:10:00+07:00"},
            {"action": "accept", "occurred_at": "2024-05-13T15:20:00+07:00"},  # after 15:00
            {
                "action": "request_supplement",
                "occurred_at": "2024-05-14T09:00:00+07:00",
                "items": ["Bản sao CCCD"],
                "reason": "Thiếu bản sao CCCD",
            },
            {"action": "supplement", "occurred_at": "2024-05-15T10:00:00+07:00", "items": ["Bản sao CCCD"]},
        ],
    },
    {
        "external_id": "LEG-2",
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "in_person",
        "applicant": APPLICANT,
        "history": [
            {"action": "accept", "occurred_at": "2025-09-15T09:00:00+07:00"},
            {"action": "withdraw", "occurred_at": "2025-09-16T10:00:00+07:00", "reason": "Công dân rút hồ sơ"},
        ],
    },
    {
        "external_id": "LEG-3",
        "procedure_code": BIRTH,
        "receiving_unit_code": "H56.102",
        "channel": "online",
        "applicant": APPLICANT,
        "history": [
            {"action": "submit", "occurred_at": "2025-10-01T20:00:00+07:00"},
            {"action": "refuse", "occurred_at": "2025-10-02T08:00:00+07:00", "reason": "Không thuộc thẩm quyền"},
        ],
    },
    {
        "external_id": "LEG-4",
        "procedure_code": STATUS_MARRIAGE,
        "receiving_unit_code": "H56.14.01",
        "channel": "in_person",
        "applicant": APPLICANT,
        "history": [
            {"action": "accept", "occurred_at": "2024-05-13T10:00:00+07:00"},
            {
                "action": "set_financial_obligation",
                "occurred_at": "2024-05-14T08:00:00+07:00",
                "items": ["Lệ phí"],
                "amount_vnd": 50000,
            },
            {"action": "pay", "occurred_at": "2024-05-14T14:30:00+07:00", "receipt_reference": "BL-0042"},
        ],
    },
]
UNKNOWN_PROCEDURE: dict[str, Any] = {**LEGACY[2], "external_id": "LEG-5", "procedure_code": "9.999999.000.00.00.H56"}
ILLEGAL: dict[str, Any] = {
    **LEGACY[1],
    "external_id": "LEG-6",
    "history": [
        {"action": "accept", "occurred_at": "2025-09-15T09:00:00+07:00"},
        {"action": "pay", "occurred_at": "2025-09-15T10:00:00+07:00"},
    ],
}
# H56.101 exists only in the two-level map, from 1 July 2025.
BEFORE_THE_UNIT: dict[str, Any] = {**LEGACY[0], "external_id": "LEG-7", "receiving_unit_code": "H56.101"}
# line 1 LEG-1, 2 LEG-2, 3 blank, 4 garbage, 5 LEG-3, 6 unknown procedure, 7 LEG-4, 8 illegal history, 9 LEG-7
LINES = [
    json.dumps(LEGACY[0], ensure_ascii=False),
    json.dumps(LEGACY[1], ensure_ascii=False),
    "",
    "this is not JSON {",
    json.dumps(LEGACY[2], ensure_ascii=False),
    json.dumps(UNKNOWN_PROCEDURE, ensure_ascii=False),
    json.dumps(LEGACY[3], ensure_ascii=False),
    json.dumps(ILLEGAL, ensure_ascii=False),
    json.dumps(BEFORE_THE_UNIT, ensure_ascii=False),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    tmp = tmp_path_factory.mktemp("import")
    s = DevStack(stack_config(tmp, broker, fresh_database_url(tmp), new_namespace()))
    try:
        s.start(["intake"])  # the import is intake's; its events are read straight from the topic
        yield s
    finally:
        s.stop()


def run_cli(stack: DevStack, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [str(ROOT / ".venv/bin/lienthong"), "import", str(path), "--url", stack.config.url("intake")]
    return subprocess.run(
        [*argv, "--key", stack.admin_key, *extra], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False
    )


@dataclass
class Imported:
    path: Path
    run: subprocess.CompletedProcess[str]
    codes: dict[str, str]


def dossier_count(stack: DevStack) -> int:
    with client(stack, "intake") as c:
        return len(c.get("/v1/dossiers", params={"limit": 500}).json()["items"])


@pytest.fixture(scope="module")
def imported(stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    path = tmp_path_factory.mktemp("files") / "legacy.ndjson"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    run = run_cli(stack, path, "--batch", "2")
    with client(stack, "intake") as c:
        items = c.get("/v1/dossiers", params={"limit": 500}).json()["items"]
    return Imported(path, run, {d["external_id"]: d["code"] for d in items if d["external_id"]})


def test_the_import_reports_what_it_imported_and_why_it_rejected_lines(imported: Imported) -> None:
    run = imported.run
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "imported: 4\nalready imported: 0\nrejected: 4\n" in out
    assert "  line 4: (line): not JSON (or not UTF-8)\n" in out
    assert "  line 6 (LEG-5): procedure_code: no procedure '9.999999.000.00.00.H56' in the catalogue" in out
    assert "  line 8 (LEG-6): history.1.action: cannot pay a dossier that is accepted\n" in out
    assert "  line 9 (LEG-7): receiving_unit_code: no unit 'H56.101' at that date\n" in out
    assert "import: 8 dossiers in" in run.stderr  # the progress bar's last line (stderr is not a terminal)

    rejects = [json.loads(x) for x in (imported.path.parent / "legacy.rejects.ndjson").read_text().splitlines()]
    assert [(r["line"], r["external_id"]) for r in rejects] == [(4, None), (6, "LEG-5"), (8, "LEG-6"), (9, "LEG-7")]
    assert rejects[0]["input"] == "this is not JSON {"
    assert json.loads(rejects[2]["input"]) == ILLEGAL
    assert rejects[2]["errors"] == [
        {"source": "body", "field": "history.1.action", "reason": "cannot pay a dossier that is accepted"}
    ]
    # Codes continue each old day's sequence of the receiving unit, in the order of the file.
    assert imported.codes == {
        "LEG-1": "H56.14.01-240513-0001",
        "LEG-2": "H56.101-250915-0001",
        "LEG-3": "H56.102-251001-0001",
        "LEG-4": "H56.14.01-240513-0002",
    }


def detail(stack: DevStack, code: str) -> dict[str, Any]:
    with client(stack, "intake") as c:
        response = c.get(f"/v1/dossiers/{code}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def timeline(body: dict[str, Any]) -> list[tuple[str, datetime, str]]:
    return [(e["type"], at(e["occurred_at"]), e["status"]) for e in body["timeline"]]


def times(legacy: dict[str, Any]) -> list[datetime]:
    return [at(step["occurred_at"]) for step in legacy["history"]]


def test_imported_dossiers_have_the_legacy_status_appointment_and_timeline(stack: DevStack, imported: Imported) -> None:
    first = detail(stack, imported.codes["LEG-1"])
    assert (first["status"], first["status_code"]) == ("accepted", 2)  # resumed after the supplement
    assert first["receiving_unit_name"] == "Phường Trần Phú"
    assert at(first["received_at"]) == at("2024-05-13T08:10:00+07:00")
    assert at(first["accepted_at"]) == at("2024-05-13T15:20:00+07:00")
    # Accepted after 15:00: the clock starts on Tuesday 07:00; 3 working days end Thursday 17:00.
    assert at(first["appointment_at"]) == at("2024-05-16T17:00:00+07:00")
    assert timeline(first) == list(
        zip(
            ["dossier.submitted", "dossier.accepted", "dossier.supplement_requested", "dossier.supplemented"],
            times(LEGACY[0]),
            ["submitted", "accepted", "supplement_requested", "accepted"],
            strict=True,
        )
    )

    withdrawn = detail(stack, imported.codes["LEG-2"])
    assert (withdrawn["status"], withdrawn["status_code"], withdrawn["status_reason"]) == (
        "withdrawn",
        7,
        "Công dân rút hồ sơ",
    )
    assert at(withdrawn["appointment_at"]) == at("2025-09-29T09:00:00+07:00")
    assert [(t, o) for t, o, _ in timeline(withdrawn)] == list(
        zip(["dossier.accepted", "dossier.withdrawn"], times(LEGACY[1]), strict=True)
    )

    refused = detail(stack, imported.codes["LEG-3"])
    assert (refused["status"], refused["status_code"], refused["appointment_at"]) == ("refused", 3, None)
    assert [t for t, _, _ in timeline(refused)] == ["dossier.submitted", "dossier.refused"]

    paid = detail(stack, imported.codes["LEG-4"])
    assert paid["status"] == "accepted"
    assert [(t, o) for t, o, _ in timeline(paid)] == list(
        zip(["dossier.accepted", "dossier.financial_obligation_set", "dossier.paid"], times(LEGACY[3]), strict=True)
    )


def read_events(stack: DevStack, codes: set[str], expected: int, timeout: float = 60) -> list[Envelope]:
    async def read() -> list[Envelope]:
        consumer = AIOKafkaConsumer(
            f"{stack.config.kafka_namespace}intake.dossier.v1",
            bootstrap_servers=stack.config.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        found: list[Envelope] = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while len(found) < expected and asyncio.get_running_loop().time() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(e for r in records if (e := Envelope.from_bytes(r.value)).dossier_code in codes)
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def test_the_events_carry_the_legacy_business_times(stack: DevStack, imported: Imported) -> None:
    codes = {imported.codes[e]: e for e in ("LEG-1", "LEG-2", "LEG-3", "LEG-4")}
    events = read_events(stack, set(codes), expected=11)
    by_legacy: dict[str, list[tuple[str, datetime]]] = {}
    for event in events:
        by_legacy.setdefault(codes[event.dossier_code], []).append((event.type, event.occurred_at))
    legacy = {d["external_id"]: d for d in LEGACY}
    assert by_legacy == {
        "LEG-1": list(
            zip(
                ["dossier.submitted", "dossier.accepted", "dossier.supplement_requested", "dossier.supplemented"],
                times(legacy["LEG-1"]),
                strict=True,
            )
        ),
        "LEG-2": list(zip(["dossier.accepted", "dossier.withdrawn"], times(legacy["LEG-2"]), strict=True)),
        "LEG-3": list(zip(["dossier.submitted", "dossier.refused"], times(legacy["LEG-3"]), strict=True)),
        "LEG-4": list(
            zip(
                ["dossier.accepted", "dossier.financial_obligation_set", "dossier.paid"],
                times(legacy["LEG-4"]),
                strict=True,
            )
        ),
    }
    accepted = next(e for e in events if e.type == "dossier.accepted" and codes[e.dossier_code] == "LEG-1")
    assert at(accepted.payload["clock_starts_at"]) == at("2024-05-14T07:00:00+07:00")
    assert at(accepted.payload["appointment_at"]) == at("2024-05-16T17:00:00+07:00")


def test_importing_the_same_file_again_imports_nothing(stack: DevStack, imported: Imported) -> None:
    before = dossier_count(stack)
    again = run_cli(stack, imported.path)
    assert again.returncode == 1, again.stdout + again.stderr  # the bad lines are still bad
    assert "imported: 0\nalready imported: 4\nrejected: 4\n" in again.stdout
    assert dossier_count(stack) == before


def test_the_endpoint_takes_one_object_and_answers_per_item(stack: DevStack, imported: Imported) -> None:
    with client(stack, "intake") as c:
        again = c.post("/v1/dossiers:import", json=LEGACY[1])
        bad = c.post(
            "/v1/dossiers:import",
            json={"dossiers": [{**LEGACY[2], "external_id": "LEG-9", "channel": "by pigeon"}, [1, 2]]},
        )
        twice = c.post("/v1/dossiers:import", json={"dossiers": [{**LEGACY[2], "external_id": "LEG-10"}] * 2})
        unauthenticated = c.post("/v1/dossiers:import", json=LEGACY[1], headers={"Authorization": ""})
    assert again.status_code == 200, again.text
    assert again.json() == {
        "results": [
            {
                "index": 0,
                "external_id": "LEG-2",
                "outcome": "already_imported",
                "code": imported.codes["LEG-2"],
                "errors": None,
            }
        ],
        "counts": {"imported": 0, "already_imported": 1, "rejected": 0},
    }
    results = bad.json()["results"]
    assert [(r["external_id"], r["outcome"]) for r in results] == [("LEG-9", "rejected"), (None, "rejected")]
    assert [e["field"] for e in results[0]["errors"]] == ["channel"]
    first, second = twice.json()["results"]
    assert (first["outcome"], second["outcome"]) == ("imported", "already_imported")
    assert first["code"] == second["code"] == "H56.102-251001-0002"
    assert unauthenticated.status_code == 401


def test_a_portal_key_may_not_import(stack: DevStack) -> None:
    with client(stack, "intake", stack.key("dev-portal")) as c:
        response = c.post("/v1/dossiers:import", json={"dossiers": [LEGACY[0]]})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_a_second_dossier_with_the_same_external_id_from_the_same_key_is_409(stack: DevStack) -> None:
    body = {
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "online",
        "applicant": APPLICANT,
        "external_id": "PORTAL-7",
    }
    with client(stack, "intake", stack.key("dev-portal")) as portal:
        first = portal.post("/v1/dossiers", json=body)
        second = portal.post("/v1/dossiers", json=body)
    assert first.status_code == 201, first.text
    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["existing_code"] == first.json()["code"]
    with client(stack, "intake", stack.key("dev-desk-H56.101")) as desk:
        assert desk.post("/v1/dossiers", json=body).status_code == 201  # external ids are per key
    legacy = {**LEGACY[1], "external_id": "PORTAL-7"}
    with client(stack, "intake") as c:
        result = c.post("/v1/dossiers:import", json=legacy).json()["results"][0]
    assert (result["outcome"], result["code"]) == ("already_imported", first.json()["code"])


def test_the_same_external_id_posted_at_once_files_one_dossier_and_409s_the_others(stack: DevStack) -> None:
    body = {
        "procedure_code": LAND,
        "receiving_unit_code": "H56.101",
        "channel": "online",
        "applicant": APPLICANT,
        "external_id": "PORTAL-RACE",
    }

    def post(_: int) -> tuple[int, str]:
        with client(stack, "intake", stack.key("dev-portal")) as portal:
            r = portal.post("/v1/dossiers", json=body)
        return r.status_code, r.json().get("code") or r.json().get("existing_code")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert sorted(status for status, _ in answers) == [201] + [409] * 7, answers
    assert len({code for _, code in answers}) == 1


def test_concurrent_imports_of_one_dossier_import_it_once_and_keep_codes_gap_free(stack: DevStack) -> None:
    """On PostgreSQL the losers hit the unique index after taking a sequence number; their rollback returns it."""
    day = "2025-11-03T09:00:00+07:00"
    codes = []
    for n in range(3):
        body = {**LEGACY[1], "external_id": f"RACE-{n}", "history": [{"action": "accept", "occurred_at": day}]}

        def post(_: int, body: dict[str, Any] = body) -> tuple[str, str]:
            with client(stack, "intake") as c:
                result = c.post("/v1/dossiers:import", json=body).json()["results"][0]
            return result["outcome"], result["code"]

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(post, range(6)))
        assert sorted(o for o, _ in answers) == ["already_imported"] * 5 + ["imported"], answers
        assert len({c for _, c in answers}) == 1
        codes.append(answers[0][1])
    assert codes == [f"H56.101-251103-{n:04d}" for n in (1, 2, 3)]


def test_the_import_endpoint_is_documented_with_an_example(stack: DevStack) -> None:
    with client(stack, "intake") as c:
        spec = c.get("/openapi.json").json()
    content = spec["paths"]["/v1/dossiers:import"]["post"]["requestBody"]["content"]["application/json"]
    assert content["examples"]["one"]["value"]["history"][0]["action"] == "submit"
    assert {"$ref": "#/components/schemas/LegacyDossier"} in content["schema"]["anyOf"]
    assert "/v1/dossiers/{code}" in spec["paths"]
