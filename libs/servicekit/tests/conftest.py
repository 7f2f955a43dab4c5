"""Fixtures for servicekit's integration tests: a real NATS and a real Postgres (from praxis_testkit).

Isolation: stream names are global per NATS server, so every test gets its own stream on its own subjects
(``praxis.bench.<id>.>``, per-bench command subjects the registry already knows how to decode) and its own
Postgres schema holding an outbox, an inbox and an ``effects`` table that handlers write to. Services started
with ``services`` run in the test's event loop; a schema they use (``db_schema``) is dropped only after they stop.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
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

from praxis_contracts.common import DeadLetter, HealthQuery, HealthReply, health_subject
from praxis_contracts.hardware import EndRun
from praxis_contracts.registry import encode, subject_of
from praxis_contracts.streams import DLQ, StreamSpec
from praxis_servicekit.bus import connect, ensure_streams
from praxis_servicekit.consumer import Consumer, Subscription
from praxis_servicekit.db import SqlUnitOfWork, UnitOfWorkFactory, inbox_table, make_engine, outbox_table
from praxis_servicekit.queries import request
from praxis_servicekit.service import DbSpec, ServiceContext, ServiceSpec, Wiring, run_service
from praxis_servicekit.settings import ServiceSettings
from praxis_testkit.servers import PgCluster
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


@asynccontextmanager
async def open_lane(js: JetStreamContext, bench: str, service: str, **spec: Any) -> AsyncIterator[Lane]:
    stream = StreamSpec(name=f"PRAXIS_TEST_{bench.upper()}", subjects=(f"praxis.bench.{bench}.>",), **spec)
    await ensure_streams(js, (stream,))
    yield Lane(js=js, bench=bench, stream=stream.name, service=service)
    try:
        await js.delete_stream(stream.name)
    except NotFoundError:
        pass


@pytest.fixture
async def lane(js: JetStreamContext, unique_id: str) -> AsyncIterator[Lane]:
    async with open_lane(js, f"b{unique_id}", f"svc{unique_id}") as opened:
        yield opened


@pytest.fixture
async def work_lane(js: JetStreamContext, unique_id: str) -> AsyncIterator[Lane]:
    """A lane on a work-queue stream, like the real command streams (one consumer per filter, acked = gone)."""
    async with open_lane(js, f"w{unique_id}", f"svcw{unique_id}", retention="workqueue") as opened:
        yield opened


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


@asynccontextmanager
async def open_store(engine: AsyncEngine, schema: str) -> AsyncIterator[Store]:
    """A fresh schema ``schema`` on ``engine`` with the servicekit tables and ``effects``; dropped on exit."""
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


@pytest.fixture
async def store(engine: AsyncEngine, unique_id: str) -> AsyncIterator[Store]:
    async with open_store(engine, f"sk_{unique_id}") as opened:
        yield opened


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


@pytest.fixture
async def work_consumers(js: JetStreamContext, work_lane: Lane, store: Store) -> AsyncIterator[Consumers]:
    group = Consumers(js, work_lane, store.uow_factory)
    yield group
    await group.stop_all()


# -------------------------------------------------------------------------------------------- outages


@pytest.fixture(scope="session")
def outage_cluster() -> Iterator[PgCluster]:
    """A Postgres of servicekit's own, for tests that stop it: the session's shared one is never stopped.

    Its data dir outlives a stop (so a restart finds the schemas again); it is not under pytest's tmp_path
    because the ``postgres`` OS user (Postgres refuses to run as root) must be able to reach it.
    """
    base = Path(tempfile.mkdtemp(prefix="praxis-servicekit-outage-"))
    base.chmod(0o755)
    cluster = PgCluster(data_dir=base / "pg", durable=False)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Outage:
    """Stop and start :func:`outage_cluster` from a test, without blocking the event loop the services run in."""

    cluster: PgCluster

    @property
    def dsn(self) -> str:
        return self.cluster.dsn

    async def stop(self) -> None:
        await asyncio.to_thread(self.cluster.stop)

    async def start(self) -> None:
        if not self.cluster.running:
            await asyncio.to_thread(self.cluster.start)  # same data dir, same port


@pytest.fixture
async def outage(outage_cluster: PgCluster) -> AsyncIterator[Outage]:
    controller = Outage(outage_cluster)
    await controller.start()
    yield controller
    await controller.start()  # a test that failed half-way leaves it running for the next one


@pytest.fixture
async def outage_store(outage: Outage, unique_id: str) -> AsyncIterator[Store]:
    engine = make_engine(outage.dsn)
    try:
        async with open_store(engine, f"sk_{unique_id}") as opened:
            yield opened
            await outage.start()  # the schema is dropped on a running server
    finally:
        await engine.dispose()


@pytest.fixture
async def outage_consumers(js: JetStreamContext, lane: Lane, outage_store: Store) -> AsyncIterator[Consumers]:
    group = Consumers(js, lane, outage_store.uow_factory)
    yield group
    await group.stop_all()


# ------------------------------------------------------------------------------------------- services


@dataclass
class Running:
    task: asyncio.Task[None]
    ctx: ServiceContext

    async def stop(self) -> None:
        self.ctx.stopping.set()
        await asyncio.wait_for(self.task, timeout=15)


@dataclass
class Services:
    """``run_service`` in tasks of the test's loop; every one still running is stopped by :meth:`stop_all`."""

    nats_url: str
    running: list[Running] = field(default_factory=list)

    def spec(
        self,
        name: str,
        wire: Callable[[ServiceContext], Awaitable[Wiring]] | None = None,
        *,
        db: DbSpec | None = None,
        database_url: str | None = None,
    ) -> ServiceSpec:
        settings = ServiceSettings(nats_url=self.nats_url, database_url=database_url, shutdown_grace_s=5.0)

        async def no_wiring(ctx: ServiceContext) -> Wiring:
            return Wiring()

        return ServiceSpec(name=name, version="1.2.3", settings=settings, wire=wire or no_wiring, db=db)

    @staticmethod
    def db_spec(schema: str, migrations: Path) -> DbSpec:
        metadata = sa.MetaData(schema=schema)
        outbox_table(metadata)
        inbox_table(metadata)
        return DbSpec(metadata=metadata, migrations=migrations)

    async def start(self, spec: ServiceSpec) -> Running:
        """Run the service in a task; return once it serves (or raise what stopped it from starting)."""
        contexts: list[ServiceContext] = []
        original_wire = spec.wire

        async def wire(ctx: ServiceContext) -> Wiring:
            contexts.append(ctx)
            return await original_wire(ctx)

        spec.wire = wire
        ready = asyncio.Event()
        task = asyncio.create_task(run_service(spec, ready=ready.set))
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait([task, ready_wait], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        ready_wait.cancel()
        if task.done():
            task.result()  # raises why it did not start
            raise AssertionError("run_service returned before it was ready")
        assert ready.is_set(), "run_service did not become ready within 30 s"
        running = Running(task, contexts[0])
        self.running.append(running)
        return running

    async def stop_all(self) -> None:
        for running in self.running:
            if not running.task.done():
                await running.stop()

    @staticmethod
    async def health(nc: Client, service: str) -> HealthReply:
        return await request(nc, HealthQuery(), HealthReply, subject=health_subject(service), timeout=5)


@pytest.fixture
async def services(nats_url: str) -> AsyncIterator[Services]:
    group = Services(nats_url)
    yield group
    await group.stop_all()


@pytest.fixture
async def db_schema(engine: AsyncEngine, services: Services, unique_id: str) -> AsyncIterator[str]:
    """A schema name for a service's migrations, dropped after the test.

    It depends on ``services`` so that pytest sets ``services`` up first and tears it down *last*: every service
    is stopped here, before the drop. Otherwise a test that fails while its service runs would drop the schema
    under the running relay (``relation "svc_....outbox" does not exist`` in the teardown log).
    """
    name = f"svc_{unique_id}"
    yield name
    await services.stop_all()
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


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
