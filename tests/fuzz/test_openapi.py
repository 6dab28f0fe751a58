"""schemathesis against every service's OpenAPI document, with every check, as three callers: the
administrator's key, no key at all, and a key that does not exist.

The checks are schemathesis' own (no 5xx; status codes, content types, headers and bodies as documented;
invalid data refused; unsupported methods answered 405 with a true ``Allow``; …) plus the two of
``st_hooks.py``: every error is a problem document, and schema-valid data is refused only for a business
rule. The legacy import runs on its own without the invalid-data check (it reports bad dossiers in a 200).

The runs go ``LIENTHONG_FUZZ_JOBS`` (3) at a time against the one stack, intake's first (the most operations,
and two runs per caller): each schemathesis process and the service it questions take turns on the CPU, so
the runs overlap well even on two cores. One caller's runs of a service stay in sequence, so intake's two
administrator runs, which both create dossiers, never overlap.

``LIENTHONG_FUZZ_SEED`` fixes what every run sends: two runs with one seed send the same requests in the same
order, even against a stack whose data differ (measured on all four services). That holds because each run has
a fresh working directory: schemathesis keeps its example database there, and a reused one replays the previous
run's examples first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
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
            [
                "--include-path",
                IMPORT,
                "--exclude-checks",
                "positive_data_acceptance,negative_data_rejection",
                # Its links lead to operations this run leaves out: the main run follows them.
                "--phases",
                "examples,coverage,fuzzing",
            ],
        ),
    ],
}


def jobs() -> int:
    return max(1, int(os.environ.get("LIENTHONG_FUZZ_JOBS", "3")))


def examples_for(caller: str) -> int:
    # Without a key every operation answers 401 before reading its input: a tenth of the examples is plenty.
    return examples() if caller == "admin" else max(5, examples() // 10)


@dataclass
class Outcome:
    label: str
    code: int
    output: str
    report: str


class Runs:
    """Every (service, caller)'s schemathesis runs, started at once on a pool and awaited by their tests."""

    def __init__(self, stack: DevStack, workdir: Path) -> None:
        self._stack = stack
        self._workdir = workdir
        self._procs: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self._closing = False
        self._pool = ThreadPoolExecutor(jobs(), thread_name_prefix="schemathesis")
        # In the tests' order, intake's first: it has the most operations and two runs per caller.
        self.futures: dict[tuple[str, str], Future[list[Outcome]]] = {
            (s, c): self._pool.submit(self._sequence, s, c) for s in SERVICES for c in CALLERS
        }

    def _sequence(self, service: str, caller: str) -> list[Outcome]:
        return [
            self._run(service, caller, label, selection)
            for label, selection in RUNS.get(service, [("", ALL_BUT_POSITIVE)])
        ]

    def _run(self, service: str, caller: str, label: str, selection: list[str]) -> Outcome:
        n = examples_for(caller)
        seed = os.environ.get("LIENTHONG_FUZZ_SEED")
        stack = self._stack
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
            # Hypothesis' too_slow health check times the generator, not the API: on a busy machine it would fail
            # an operation (and test nothing of it) by chance.
            "--suppress-health-check",
            "too_slow",
            *(["--seed", seed] if seed else []),
            *_auth(stack, caller),
        ]
        # schemathesis keeps its run data (.schemathesis/) in the working directory: a fresh one per run, so that a
        # seeded run is repeatable.
        cwd = tempfile.mkdtemp(prefix=f"{service}-{caller}-", dir=self._workdir)
        started = time.monotonic()
        with self._lock:
            if self._closing:
                return Outcome(label, -1, "not run: the fuzz pass was stopping", "")
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.st_hooks", "PYTHONPATH": str(ROOT)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            self._procs.add(proc)
        try:
            out, _ = proc.communicate(timeout=3600)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        finally:
            with self._lock:
                self._procs.discard(proc)
        took = time.monotonic() - started
        operations = re.search(r"Tested:\s+(\d+)", out)
        cases = re.search(r"(\d+) generated", out)
        verdict = re.findall(r"^=+ (.+?) in [\d.]+s =+$", out, re.MULTILINE)
        report = (
            f"openapi {service + label:<16} {caller:<11} {operations.group(1) if operations else '?'} operations × "
            f"{n} examples: {cases.group(1) if cases else '?'} test cases in {took:.0f}s; "
            f"{verdict[-1] if verdict else 'no summary'}"
        )
        return Outcome(label, proc.returncode, out, report)

    def close(self) -> None:
        """Stop whatever still runs (an interrupted pass), then the pool."""
        with self._lock:
            self._closing = True
            for proc in self._procs:
                proc.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def runs(fuzz_stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    started = time.monotonic()
    all_runs = Runs(fuzz_stack, tmp_path_factory.mktemp("schemathesis"))
    try:
        yield all_runs
    finally:
        all_runs.close()
        REPORT.append(f"openapi {len(all_runs.futures)} runs, {jobs()} at a time: {time.monotonic() - started:.0f}s")


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_documented(runs: Runs, service: str, caller: str) -> None:
    outcomes = runs.futures[(service, caller)].result()
    REPORT.extend(o.report for o in outcomes)
    failures = [f"{service}{o.label} ({caller}):\n{o.output[-20000:]}" for o in outcomes if o.code != 0]
    assert not failures, "schemathesis found problems in " + "\n".join(failures)
