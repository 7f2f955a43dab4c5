"""Postgres error classification shared by the adapters."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

EXCLUSION_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error raised through SQLAlchemy/asyncpg, if any."""
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return str(code) if code else None
    code = getattr(exc, "sqlstate", None)  # asyncpg.PostgresError, raised by statements sent on the driver
    return str(code) if code else None
