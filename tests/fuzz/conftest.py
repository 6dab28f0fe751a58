"""``make fuzz`` only: these tests run with ``LIENTHONG_FUZZ=1`` and are skipped by ``make test``.

``LIENTHONG_FUZZ_EXAMPLES`` sets the examples per operation (``make fuzz``: 200; the short pass for CI: 10),
``LIENTHONG_FUZZ_SEED`` makes schemathesis send the same requests every run, ``LIENTHONG_FUZZ_JOBS`` (3) sets how
many schemathesis runs go at once.
Every test adds lines to one report, printed at the end: what was done and what was found.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack import DevStack
from tests.support.infra import Broker
from tests.support.stacks import running_stack

ENABLED = os.environ.get("LIENTHONG_FUZZ") == "1"
REPORT: list[str] = []


def examples() -> int:
    return int(os.environ.get("LIENTHONG_FUZZ_EXAMPLES", "200"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: part of make fuzz (LIENTHONG_FUZZ=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="fuzz pass: run with make fuzz (LIENTHONG_FUZZ=1)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("fuzz report")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def fuzz_stack(workdir: Path, broker: Broker) -> Iterator[DevStack]:
    """All four services on a fresh database; no rate limit, so the fuzzer's requests are all answered."""
    with running_stack(workdir, broker, extra_env={"LIENTHONG_RATE_LIMIT_PER_S": "0"}) as stack:
        yield stack
