"""Fixtures for servicekit's integration tests: a real NATS and a real Postgres (from praxis_testkit).

Isolation: stream names are global per NATS server, so every test gets its own stream on its own subjects
(``praxis.bench.<id>.>``, per-bench command subjects the registry already knows how to decode) and its own
Postgres schema holding an outbox, an inbox and an ``effects`` table that handlers write to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_contracts.common import DeadLetter
from praxis_contracts.hardware import EndRun
from praxis_contracts.registry import encode, subject_of
from praxis_contracts.streams import DLQ, StreamSpec
from praxis_servicekit.bus import connect, ensure_streams
from praxis_servicekit.consumer import Consumer, Subscription
from praxis_servicekit.db import SqlUnitOfWork, UnitOfWorkFactory, inbox_table, make_engine, outbox_table
from praxis_testkit.waiting import wait_for


@pytest.fixture(scope="session")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await connect(nats_url, "praxis-servicekit-tests")
    await ensure_streams(client.jetstream())  # the real specs; this session's NATS is ours alone
    yield client
    await client.drain()


@pytest.fixture(scope="session")
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture(scope="session")
async def engine(pg_dsn: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(pg_dsn)
    yield eng
    await eng.dispose()


# ----------------------------------------------------------------------------------------------- NATS


@dataclass
class Lane:
    """A bench id with a stream of its own (``praxis.bench.<bench>.>``) and a service name for its DLQ."""

    js: JetStreamContext
    bench: str
    stream: str
    service: str

    @property
    def dlq_subject(self) -> str:
        return f"praxis.dlq.{self.service}"

    def end_run(self, run_id: str = "run-1", **fields: Any) -> EndRun:
        return EndRun(bench_id=self.bench, run_id=run_id, **fields)

    async def publish(self, msg: EndRun, *, msg_id: str | None = None) -> None:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await self.js.publish(subject_of(msg), encode(msg), headers=headers)

    async def publish_raw(self, data: bytes, subject: str | None = None) -> None:
        await self.js.publish(subject or subject_of(EndRun, bench_id=self.bench), data)

    async def stream_messages(self) -> int:
        return int((await self.js.stream_info(self.stream)).state.messages)

    async def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter of this lane's service, oldest first (read with an ephemeral ordered consumer)."""
        info = await self.js.stream_info(DLQ.name, subjects_filter=self.dlq_subject)
        count = (info.state.subjects or {}).get(self.dlq_subject, 0)
        if not count:
            return []
        sub = await self.js.subscribe(self.dlq_subject, ordered_consumer=True)
        try:
            letters = []
            for _ in range(count):
                msg = await sub.next_msg(timeout=5)
                letters.append(DeadLetter.model_validate_json(msg.data))
            return letters
        finally:
            await sub.unsubscribe()


@pytest.fixture
async def lane(js: JetStreamContext, unique_id: str) -> AsyncIterator[Lane]:
    bench = f"b{unique_id}"
    spec = StreamSpec(name=f"PRAXIS_TEST_{unique_id.upper()}", subjects=(f"praxis.bench.{bench}.>",))
    await ensure_streams(js, (spec,))
    yield Lane(js=js, bench=bench, stream=spec.name, service=f"svc{unique_id}")
    try:
        await js.delete_stream(spec.name)
    except NotFoundError:
        pass


# ------------------------------------------------------------------------------------------- Postgres


@dataclass
class Store:
    """A throwaway schema with the servicekit outbox/inbox and an ``effects`` table (the handlers' "state")."""

    engine: AsyncEngine
    metadata: sa.MetaData
    outbox: sa.Table
    inbox: sa.Table
    effects: sa.Table
    uow_factory: UnitOfWorkFactory

    async def add_effect(self, uow: SqlUnitOfWork, message_id: UUID, note: str = "") -> None:
        await uow.session.execute(sa.insert(self.effects).values(message_id=message_id, note=note))

    async def count(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)

    async def notes(self) -> list[str]:
        async with self.engine.connect() as conn:
            return list((await conn.scalars(sa.select(self.effects.c.note).order_by(self.effects.c.id))).all())


@pytest.fixture
async def store(engine: AsyncEngine, unique_id: str) -> AsyncIterator[Store]:
    schema = f"sk_{unique_id}"
    md = sa.MetaData(schema=schema)
    outbox, inbox = outbox_table(md), inbox_table(md)
    effects = sa.Table(
        "effects",
        md,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("message_id", PgUUID(as_uuid=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    async with engine.begin() as conn:
        await conn.execute(sa.schema.CreateSchema(schema))
        await conn.run_sync(md.create_all)
    yield Store(engine, md, outbox, inbox, effects, UnitOfWorkFactory(engine, md))
    async with engine.begin() as conn:
        await conn.execute(sa.schema.DropSchema(schema, cascade=True))


# ------------------------------------------------------------------------------------------ consumers


class RecordingConsumer(Consumer):
    """A Consumer that remembers each message's outcome, so tests can wait for "handled" instead of sleeping."""

    outcomes: list[str]

    async def handle(self, msg: Msg) -> str:
        outcome = await super().handle(msg)
        self.outcomes.append(outcome)
        return outcome


@dataclass
class Consumers:
    js: JetStreamContext
    lane: Lane
    uow_factory: Callable[[], Any] | None
    running: list[tuple[Consumer, asyncio.Task[None]]] = field(default_factory=list)

    async def start(
        self, handler: Callable[[Any, Any], Awaitable[None]], *, with_db: bool = True, **options: Any
    ) -> RecordingConsumer:
        """Subscribe a durable (unique per test) for the lane's EndRun commands and run it in a task."""
        options.setdefault("durable", f"{self.lane.service}-end-run")
        options.setdefault("subject", subject_of(EndRun, bench_id=self.lane.bench))
        sub = Subscription(message_type=EndRun, handler=handler, **options)
        consumer = RecordingConsumer(
            self.js, sub, service=self.lane.service, uow_factory=self.uow_factory if with_db else None, batch=16
        )
        consumer.outcomes = []
        await consumer.subscribe()
        self.running.append((consumer, asyncio.create_task(consumer.run())))
        return consumer

    async def idle(self, consumer: Consumer) -> None:
        """Wait until the durable has nothing pending or unacknowledged (every message settled)."""

        async def settled() -> bool:
            info = await self.js.consumer_info(self.lane.stream, consumer.durable)
            return info.num_pending == 0 and info.num_ack_pending == 0

        await wait_for(settled, timeout=20, message=f"consumer {consumer.durable} to settle")

    async def stop_all(self) -> None:
        for consumer, _ in self.running:
            consumer.stop()
        for _, task in self.running:
            await asyncio.wait_for(task, timeout=10)  # a fetch returns within 1 s once stopping


@pytest.fixture
async def consumers(js: JetStreamContext, lane: Lane, store: Store) -> AsyncIterator[Consumers]:
    group = Consumers(js, lane, store.uow_factory)
    yield group
    await group.stop_all()


# ----------------------------------------------------------------------------------------- migrations

_ENV_PY = """\
import sqlalchemy as sa
from alembic import context

from praxis_servicekit.migrations import run_env

run_env(sa.MetaData(schema=context.config.attributes["praxis_schema"]))
"""

_REVISION = """\
import sqlalchemy as sa
from alembic import context, op

from praxis_servicekit.db import outbox_inbox_ddl

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["praxis_schema"]
    if down_revision is None:  # as in every service: the first revision creates the outbox and inbox
        for statement in outbox_inbox_ddl(schema):
            op.execute(statement)
    op.create_table({table!r}, sa.Column("id", sa.Integer, primary_key=True), schema=schema)


def downgrade() -> None:
    op.drop_table({table!r}, schema=context.config.attributes["praxis_schema"])
"""


@dataclass
class AlembicDir:
    """A throwaway Alembic script directory whose env.py is servicekit's ``run_env``."""

    path: Path

    def add_revision(self, revision: str, down: str | None, table: str) -> None:
        text = _REVISION.format(revision=revision, down=down, table=table)
        (self.path / "versions" / f"{revision}_{table}.py").write_text(text)


@pytest.fixture
def alembic_dir(tmp_path: Path) -> AlembicDir:
    path = tmp_path / "migrations"
    (path / "versions").mkdir(parents=True)
    (path / "env.py").write_text(_ENV_PY)
    scripts = AlembicDir(path)
    scripts.add_revision("0001", None, "things")
    return scripts
