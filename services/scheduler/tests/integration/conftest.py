"""Integration fixtures: the scheduler schema migrated once per session on the testkit's real Postgres, emptied
before each test, and helpers to run handlers in a real unit of work and read what they published."""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_contracts.base import Message
from praxis_contracts.registry import decode
from praxis_scheduler.bootstrap import MIGRATIONS
from praxis_scheduler.db.tables import metadata, outbox
from praxis_servicekit.db import UnitOfWorkFactory, make_engine
from praxis_servicekit.migrations import upgrade_to_head

TABLES = ("runs", "benches", "reservations", "assets", "force_releases", "outbox", "inbox")


@pytest.fixture(scope="session")
def scheduler_dsn(pg_dsn: str) -> str:
    """``pg_dsn`` migrated to head (Alembic's env runs its own event loop, so it runs in a thread)."""
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade_to_head(MIGRATIONS, pg_dsn, "scheduler")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=migrate)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return pg_dsn


@pytest.fixture
async def engine(scheduler_dsn: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(scheduler_dsn, pool_size=10)
    async with eng.begin() as conn:
        await conn.execute(sa.text("TRUNCATE " + ", ".join(f"scheduler.{t}" for t in TABLES) + " CASCADE"))
    yield eng
    await eng.dispose()


@pytest.fixture
def uows(engine: AsyncEngine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(engine, metadata)


Handle = Callable[..., Awaitable[Any]]


@pytest.fixture
def handle(uows: UnitOfWorkFactory, clock: Any) -> Handle:
    """``await handle(handler, message, **deps)``: one committed unit of work, as the consumer runs it.
    ``clock`` defaults to the test's FakeClock (for handlers that take one)."""

    async def run(handler: Handle, message: Message, **deps: Any) -> Any:
        if "clock" in inspect.signature(handler).parameters:
            deps.setdefault("clock", clock)
        async with uows() as uow:
            result = await handler(message, uow, **deps)
            await uow.commit()
        return result

    return run


@pytest.fixture
def published(engine: AsyncEngine) -> Callable[..., Awaitable[list[Any]]]:
    """``await published(RunScheduled)``: the committed outbox messages of that type, oldest first."""

    async def read(kind: type[Message] | None = None) -> list[Any]:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(outbox.c.subject, outbox.c.payload).order_by(outbox.c.id))).all()
        messages = [decode(subject, payload) for subject, payload in rows]
        return [m for m in messages if kind is None or isinstance(m, kind)]

    return read
