"""Postgres edge shared by services: engine, the outbox and inbox tables, and the unit of work.

The unit of work is where the messaging guarantees come from: events a handler publishes are written to the
outbox *in the same transaction* as the state change, and the id of the message being handled is written to the
inbox in that transaction too, so a redelivered message finds its id and has no second effect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from praxis_contracts.base import Message
from praxis_contracts.registry import subject_of


def asyncpg_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form users know and give SQLAlchemy its asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> AsyncEngine:
    # No pre-ping (it costs a round trip per unit of work); a connection killed by a Postgres restart fails one
    # handler, which is nak'd and retried on a fresh connection, and pool_recycle bounds how stale one can be.
    return create_async_engine(asyncpg_url(url), pool_size=pool_size, max_overflow=10, echo=echo, pool_recycle=300)


async def ping(engine: AsyncEngine, timeout_s: float) -> str | None:
    """None when Postgres answers ``SELECT 1`` within ``timeout_s``; else why not, in one line (for health)."""
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
    except TimeoutError:
        return f"no answer within {timeout_s:g}s"
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return None


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("message_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Index(None, "id", postgresql_where=sa.text("published_at IS NULL")),
    )


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "inbox",
        metadata,
        sa.Column("message_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def outbox_inbox_ddl(schema: str) -> list[str]:
    """DDL for a first migration: the same tables as :func:`outbox_table` / :func:`inbox_table`."""
    md = sa.MetaData(schema=schema)
    tables = [outbox_table(md), inbox_table(md)]
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    ddl = [str(CreateTable(t).compile(dialect=dialect)) for t in tables]
    ddl += [str(CreateIndex(i).compile(dialect=dialect)) for t in tables for i in t.indexes]
    return ddl


class SqlUnitOfWork:
    """One transaction: ``async with uow:`` opens it, ``commit()`` makes it durable, leaving rolls back.

    ``publish()`` only queues: the events reach the outbox table when ``commit()`` runs, and the relay
    publishes them afterwards. ``notify`` (the relay's wake-up) is called after a successful commit.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: sa.Table,
        inbox: sa.Table,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._inbox = inbox
        self._notify = notify
        self._pending: list[tuple[Message, str, dict[str, str]]] = []
        self._after_commit: list[Callable[[], Any]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> SqlUnitOfWork:
        self.session = self._sessionmaker()
        await self.session.begin()
        self._pending = []
        self._after_commit = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()

    def publish(self, message: Message, subject: str | None = None, headers: dict[str, str] | None = None) -> None:
        self._pending.append((message, subject or subject_of(message), dict(headers or {})))

    def after_commit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` once the transaction is durable (side effects such as starting a worker process must
        never happen for a state change that is then rolled back)."""
        self._after_commit.append(callback)

    async def claim_inbox(self, message_id: Any, consumer: str, subject: str) -> bool:
        """Record that ``consumer`` handles ``message_id``; False if it already did (a redelivery)."""
        stmt = (
            insert(self._inbox)
            .values(message_id=message_id, consumer=consumer, subject=subject)
            .on_conflict_do_nothing()
            .returning(self._inbox.c.message_id)
        )
        row = (await self.session.execute(stmt)).first()
        return row is not None

    async def commit(self) -> None:
        if self._pending:
            rows = [
                {
                    "message_id": msg.message_id,
                    "subject": subject,
                    "payload": msg.model_dump_json(),
                    "headers": {**headers, **_trace_headers(msg)},
                }
                for msg, subject, headers in self._pending
            ]
            await self.session.execute(sa.insert(self._outbox), rows)
        await self.session.commit()
        published = bool(self._pending)
        self._pending = []
        if published and self._notify is not None:
            self._notify()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        self._pending = []
        self._after_commit = []
        await self.session.rollback()


def _trace_headers(msg: Message) -> dict[str, str]:
    headers = {"Praxis-Type": type(msg).__name__}
    if msg.correlation_id:
        headers["Praxis-Correlation-Id"] = msg.correlation_id
    if msg.causation_id:
        headers["Praxis-Causation-Id"] = msg.causation_id
    return headers


class UnitOfWorkFactory:
    """Makes a fresh :class:`SqlUnitOfWork` per message; holds the engine and the service's two tables."""

    def __init__(self, engine: AsyncEngine, metadata: sa.MetaData) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        self.outbox = metadata.tables[f"{metadata.schema}.outbox"]
        self.inbox = metadata.tables[f"{metadata.schema}.inbox"]
        self.notify: Callable[[], None] | None = None

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessionmaker, self.outbox, self.inbox, self.notify)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
