"""schemathesis against every service's OpenAPI document, with every check, as three callers: the
administrator's key, no key at all, and a key that does not exist.

The checks are schemathesis' own (no 5xx; status codes, content types, headers and bodies as documented;
invalid data refused; unsupported methods answered 405 with a true ``Allow``; …) plus the two of
``st_hooks.py``: every error is a problem document, and schema-valid data is refused only for a business
rule. The legacy import runs on its own without the invalid-data check (it reports bad dossiers in a 200).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.devstack import DevStack
from tests.fuzz.conftest import REPORT, examples

pytestmark = pytest.mark.fuzz

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SERVICES = ("intake", "routing", "sla", "notify")
CALLERS = ("admin", "no-key", "garbage-key")


def _auth(stack: DevStack, caller: str) -> list[str]:
    if caller == "admin":
        return ["-H", f"Authorization: Bearer {stack.admin_key}"]
    if caller == "garbage-key":
        return ["-H", "Authorization: Bearer lt_000000000000_notakeynotakeynotakey"]
    return []


# A legacy import answers each dossier on its own: a malformed dossier is "rejected" in a 200 report, by design
# (one bad dossier never fails the batch), so a body the schema calls invalid is not refused with a 4xx. It gets
# a run of its own without that check; every other operation runs with all of them.
IMPORT = "/v1/dossiers:import"
ALL_BUT_POSITIVE = ["--exclude-checks", "positive_data_acceptance"]
RUNS: dict[str, list[tuple[str, list[str]]]] = {
    "intake": [
        ("", ["--exclude-path", IMPORT, *ALL_BUT_POSITIVE]),
        (
            " (import)",
            ["--include-path", IMPORT, "--exclude-checks", "positive_data_acceptance,negative_data_rejection"],
        ),
    ],
}


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_documented(fuzz_stack: DevStack, service: str, caller: str, tmp_path: Path) -> None:
    # Without a key every operation answers 401 before reading its input: a tenth of the examples is plenty.
    n = examples() if caller == "admin" else max(5, examples() // 10)
    failures = []
    for label, selection in RUNS.get(service, [("", ALL_BUT_POSITIVE)]):
        code, out = _schemathesis(fuzz_stack, service, caller, n, selection, tmp_path, label)
        if code != 0:
            failures.append(f"{service}{label} ({caller}):\n{out[-20000:]}")
    assert not failures, "schemathesis found problems in " + "\n".join(failures)


def _schemathesis(
    stack: DevStack, service: str, caller: str, n: int, selection: list[str], tmp_path: Path, label: str
) -> tuple[int, str]:
    seed = os.environ.get("LIENTHONG_FUZZ_SEED")
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{stack.config.url(service)}/openapi.json",
        "--checks",
        "all",
        *selection,
        "--max-examples",
        str(n),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        *(["--seed", seed] if seed else []),
        *_auth(stack, caller),
    ]
    started = time.monotonic()
    run = subprocess.run(
        command,
        check=False,
        cwd=tmp_path,  # schemathesis keeps its run data (.schemathesis/) in the working directory
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.st_hooks", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    operations = re.search(r"Tested:\s+(\d+)", out)
    cases = re.search(r"(\d+) generated", out)
    verdict = re.findall(r"^=+ (.+?) in [\d.]+s =+$", out, re.MULTILINE)
    REPORT.append(
        f"openapi {service + label:<16} {caller:<11} {operations.group(1) if operations else '?'} operations × {n} "
        f"examples: {cases.group(1) if cases else '?'} test cases in {took:.0f}s; "
        f"{verdict[-1] if verdict else 'no summary'}"
    )
    return run.returncode, out
