"""The published catalogue, a broken catalogue at start-up, and random garbage posted to intake."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.devstack import DevStack
from shared.catalog import SAMPLE_DIR
from tests.support.infra import Broker
from tests.support.stacks import running_stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[DevStack]:
    with running_stack(tmp_path_factory.mktemp("catalogue"), broker, services=["intake"]) as s:
        yield s


def get(stack: DevStack, path: str, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.config.url('intake')}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_procedures_are_published_with_their_rules(stack: DevStack) -> None:
    items = get(stack, "/v1/procedures")["items"]
    assert len(items) >= 12
    by_code = {p["code"]: p for p in items}
    land = next(p for p in items if p["field"] == "Đất đai")
    assert land["code"].endswith(".H56") and land["name"][0].isupper()
    assert all(p["name"] and p["field"] for p in items)
    civil = get(stack, "/v1/procedures", field="Hộ tịch")["items"]
    assert civil and {p["code"] for p in civil} < set(by_code)
    assert all(p["field"] == "Hộ tịch" for p in civil)


def test_the_map_of_units_changes_on_1_july_2025(stack: DevStack) -> None:
    before = get(stack, "/v1/units", at="2025-06-30")
    after = get(stack, "/v1/units", at="2025-07-01")
    assert (before["map"], after["map"]) == ("three_level", "two_level")
    levels_before = {u["level"] for u in before["items"]}
    levels_after = {u["level"] for u in after["items"]}
    assert "district" in levels_before and "district" not in levels_after
    codes_before = {u["code"] for u in before["items"]}
    codes_after = {u["code"] for u in after["items"]}
    assert "H56.14" in codes_before and "H56.14" not in codes_after
    assert "H56.101" in codes_after and "H56.101" not in codes_before
    communes = get(stack, "/v1/units", at="2025-07-01", level="commune")["items"]
    assert communes and all(u["level"] == "commune" for u in communes)
    bad = httpx.get(f"{stack.config.url('intake')}/v1/units", params={"level": "galaxy"}, timeout=10)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_a_broken_catalogue_stops_start_up_naming_the_file_and_line(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(SAMPLE_DIR, catalog)
    procedures = catalog / "procedures.yaml"
    lines = procedures.read_text(encoding="utf-8").splitlines()
    line_no = next(i for i, line in enumerate(lines, start=1) if line.strip().startswith("field:"))
    lines[line_no - 1] = lines[line_no - 1].split("field:")[0] + "field: [not, a, string]"
    procedures.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "intake"],
        env={"PATH": "/usr/bin:/bin", "LIENTHONG_CATALOG_DIR": str(catalog), "LIENTHONG_VAR": str(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"procedures.yaml:{line_no}" in result.stderr, result.stderr


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["procedure_code", "receiving_unit_code", "channel", "applicant", "documents", "result_delivery", "proxy"]
ALMOST = st.fixed_dictionaries({}, optional={f: JSON for f in FIELDS}) | st.dictionaries(st.sampled_from(FIELDS), JSON)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=JSON | ALMOST, raw=st.binary(max_size=64))
def test_garbage_of_every_shape_gets_a_problem_never_a_500(stack: DevStack, body: Any, raw: bytes) -> None:
    headers = {"Authorization": f"Bearer {stack.admin_key}", "content-type": "application/json"}
    url = f"{stack.config.url('intake')}/v1/dossiers"
    for content in (json.dumps(body).encode(), raw):
        response = httpx.post(url, content=content, headers=headers, timeout=10)
        assert response.status_code < 500, (content, response.text)
        if response.status_code != 201:
            assert response.headers["content-type"] == "application/problem+json", response.text
            assert response.json()["status"] == response.status_code
