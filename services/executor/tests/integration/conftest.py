"""A migrated executor schema on the session's real Postgres, a way to run handlers in the executor's unit of
work, and a fake owner (this replica's supervisor as handlers see it: no processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from praxis_executor.adapters.repository import ExecutorUnitOfWork
from praxis_executor.bootstrap import MIGRATIONS
from praxis_executor.db.tables import metadata
from praxis_servicekit.db import UnitOfWorkFactory, make_engine
from praxis_servicekit.migrations import upgrade_to_head

T = TypeVar("T")


@pytest.fixture(scope="session")
async def executor_uow(pg_dsn: str) -> AsyncIterator[UnitOfWorkFactory]:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, pg_dsn, "executor")
    engine = make_engine(pg_dsn)
    yield UnitOfWorkFactory(engine, metadata)
    await engine.dispose()


@dataclass
class Tx:
    """Runs ``fn(*args, uow)`` or ``handler(message, uow, **deps)`` in one committed executor unit of work."""

    factory: UnitOfWorkFactory
    lease_ttl_s: float = 15.0

    async def __call__(self, fn: Callable[..., Awaitable[T]], *args: Any, **deps: Any) -> T:
        async with self.factory() as inner:
            uow = ExecutorUnitOfWork(inner, lease_ttl_s=self.lease_ttl_s)
            if deps or (args and hasattr(args[0], "message_id")):
                result = await fn(args[0], uow, *args[1:], **deps)
            else:
                result = await fn(*args, uow)
            await uow.commit()
            return result


@pytest.fixture
def tx(executor_uow: UnitOfWorkFactory) -> Tx:
    return Tx(executor_uow)


@dataclass
class FakeOwner:
    instance: str = "executor-test"
    driven: list[str] = field(default_factory=list)

    def drive(self, run_id: str) -> None:
        self.driven.append(run_id)


@pytest.fixture
def owner(unique_id: str) -> FakeOwner:
    return FakeOwner(instance=f"executor-{unique_id}")
