"""Real outages of a Postgres of the tests' own: consumers wait them out, health reports them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.aio.client import Client

from praxis_contracts.common import HealthReply
from praxis_contracts.hardware import EndRun
from praxis_servicekit.db import SqlUnitOfWork
from praxis_servicekit.migrations import upgrade_to_head
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration

MAX_DELIVER = 3  # the budget of a bug; the outage below outlasts it


async def test_a_postgres_outage_longer_than_the_retry_budget_is_waited_out_and_handled_once(
    lane: Any, outage: Any, outage_store: Any, outage_consumers: Any
) -> None:
    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await outage_store.add_effect(uow, msg.message_id, msg.run_id)

    consumer = await outage_consumers.start(
        end_run, max_deliver=MAX_DELIVER, backoff_s=(0.05,), outage_backoff_s=0.05, outage_backoff_max_s=0.2
    )
    await outage.stop()
    await lane.publish(lane.end_run("run-through-the-outage"))

    # Down for more failed deliveries than the old budget (max_deliver in all) would have allowed.
    await wait_for(
        lambda: consumer.outcomes.count("retried") >= MAX_DELIVER + 2, timeout=30, message="retries during the outage"
    )
    assert "dead_lettered" not in consumer.outcomes
    await outage.start()

    await wait_for(lambda: consumer.outcomes[-1:] == ["ok"], timeout=30, message="the message handled once PG is back")
    await outage_consumers.idle(consumer)
    assert set(consumer.outcomes[:-1]) == {"retried"}
    assert await outage_store.notes() == ["run-through-the-outage"]  # exactly one effect
    assert await outage_store.count(outage_store.inbox) == 1
    assert await lane.dead_letters() == []


async def test_health_reports_a_database_outage_and_its_end(
    nc: Client, services: Any, outage: Any, alembic_dir: Any, unique_id: str
) -> None:
    schema, name = f"svc_{unique_id}", f"t{unique_id}"
    await asyncio.to_thread(upgrade_to_head, alembic_dir.path, outage.dsn, schema)
    spec = services.spec(name, db=services.db_spec(schema, alembic_dir.path), database_url=outage.dsn)
    await services.start(spec)
    reply = await services.health(nc, name)
    assert (reply.status, reply.details) == ("ok", {"database": "ok"})

    async def health_is(status: str) -> HealthReply | None:
        answer: HealthReply = await services.health(nc, name)
        return answer if answer.status == status else None

    await outage.stop()
    down = await wait_for(lambda: health_is("degraded"), timeout=15, message="health to report the outage")
    assert down.details["database"].startswith("unreachable: ")
    assert down.details["degraded"] == "database unreachable"

    await outage.start()
    up = await wait_for(lambda: health_is("ok"), timeout=15, message="health to report the database back")
    assert up.details == {"database": "ok"}
