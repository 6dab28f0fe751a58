"""Is this error an outage (the database or the network away for a while) or a fault of the work in hand?

An outage is retried without bound and answered with a 503: it is not the message's or the request's fault,
and dead-lettering a good event because PostgreSQL was restarting would lose it from its dossier's order.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATE classes and codes that say the server is unreachable, going down or coming up, or full.
_OUTAGE_SQLSTATE_PREFIXES = (
    "08",  # connection exception
    "57P",  # operator intervention: admin shutdown, crash shutdown, cannot connect now (starting up)
    "53300",  # too many connections
)
_OUTAGE_TEXT = (
    "connection refused",
    "could not connect",
    "connection is closed",
    "connection was closed",
    "database is locked",
    "the database system is",  # ... shutting down / starting up / in recovery mode
    "terminating connection",
)


def sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeoutError | ConnectionError | OSError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    code = sqlstate(exc)
    if code is not None and code.startswith(_OUTAGE_SQLSTATE_PREFIXES):
        return True
    text = str(exc).lower()
    return any(s in text for s in _OUTAGE_TEXT)
