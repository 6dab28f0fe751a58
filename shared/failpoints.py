"""Named crash points for fault-injection tests (as in FoundationDB or TiKV's fail points).

``LIENTHONG_FAILPOINTS="consumer.after_db_commit=kill"`` makes the process SIGKILL itself the first
time it reaches that point. Unset (always, in production) a fail point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_ACTIVE: dict[str, str] = {}


def _load() -> None:
    spec = os.environ.get("LIENTHONG_FAILPOINTS", "")
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, action = item.partition("=")
        _ACTIVE[name] = action or "kill"


def failpoint(name: str) -> None:
    action = _ACTIVE.get(name)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)


_load()
