"""A migrated executor schema on the session's real Postgres, and a fake supervisor (no processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from praxis_executor.bootstrap import MIGRATIONS
from praxis_executor.db.tables import metadata
from praxis_servicekit.db import UnitOfWorkFactory, make_engine
from praxis_servicekit.migrations import upgrade_to_head


@pytest.fixture(scope="session")
async def executor_uow(pg_dsn: str) -> AsyncIterator[UnitOfWorkFactory]:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, pg_dsn, "executor")
    engine = make_engine(pg_dsn)
    yield UnitOfWorkFactory(engine, metadata)
    await engine.dispose()


@dataclass
class FakeSupervisor:
    running: set[str] = field(default_factory=set)
    started: list[str] = field(default_factory=list)
    controls: list[tuple[str, str]] = field(default_factory=list)

    def start(self, run_id: str) -> None:
        self.started.append(run_id)
        self.running.add(run_id)

    def is_running(self, run_id: str) -> bool:
        return run_id in self.running

    def control(self, run_id: str, action: str) -> bool:
        self.controls.append((run_id, action))
        return run_id in self.running


@pytest.fixture
def supervisor() -> FakeSupervisor:
    return FakeSupervisor()
