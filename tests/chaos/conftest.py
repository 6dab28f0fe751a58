"""`make chaos` only: faults under load take minutes, so plain `make test` leaves them out."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("LIENTHONG_CHAOS") == "1":
        return
    skip = pytest.mark.skip(reason="chaos runs with make chaos (LIENTHONG_CHAOS=1)")
    for item in items:
        if "tests/chaos/" in str(item.fspath):
            item.add_marker(skip)
