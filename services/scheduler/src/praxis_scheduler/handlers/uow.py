"""What handlers need from a unit of work, as a Protocol, so tests can pass their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from praxis_contracts.base import Message

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class UnitOfWork(Protocol):
    """An open transaction. Handlers read and write through ``session`` and queue events with ``publish``;
    the caller (consumer, query route or periodic task) commits, so state and outbox rows land together."""

    session: AsyncSession

    def publish(self, message: Message) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Makes a unit of work to be entered with ``async with``; used by periodic tasks, which own their
    transaction."""

    def __call__(self) -> UnitOfWorkContext: ...


class UnitOfWorkContext(Protocol):
    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...
