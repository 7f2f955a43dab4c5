"""Request/reply over core NATS: typed queries and replies, ErrorReply -> QueryFailed, nobody there -> unavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client

from praxis_contracts.base import ErrorReply, Reply
from praxis_contracts.executor import GetRun, RunSummary
from praxis_contracts.hardware import BenchDescription, DescribeBench
from praxis_contracts.registry import subject_of
from praxis_contracts.runs import RunStatus
from praxis_servicekit.bus import sync_with_server
from praxis_servicekit.logs import correlation_id
from praxis_servicekit.queries import ERROR_HEADER, QueryFailed, QueryRoute, request, serve_queries

pytestmark = pytest.mark.integration

Serve = Callable[[Callable[[GetRun], Awaitable[Reply]]], Awaitable[str]]


@pytest.fixture
async def serve(nc: Client, unique_id: str) -> AsyncIterator[Serve]:
    """Answer GetRun with ``handler`` on a subject of this test's own; returns that subject."""
    subs: list[Any] = []

    async def start(handler: Callable[[GetRun], Awaitable[Reply]]) -> str:
        subject = f"praxis.t{unique_id}.qry.get_run.v1"  # not the real subject: no real executor can answer
        subs.extend(await serve_queries(nc, [QueryRoute(GetRun, handler, subject)], service=f"t{unique_id}"))
        await sync_with_server(nc)  # the subscription is registered with the server before anyone asks
        return subject

    yield start
    for sub in subs:
        await sub.unsubscribe()


async def test_request_reply_round_trip(nc: Client, serve: Serve) -> None:
    seen: list[str | None] = []

    async def get_run(query: GetRun) -> Reply:
        seen.append(correlation_id.get())
        return RunSummary(id=query.run_id, protocol_id="p-1", status=RunStatus.RUNNING, **query.caused())

    subject = await serve(get_run)
    query = GetRun(run_id="run-7", correlation_id="run-7")
    reply = await request(nc, query, RunSummary, subject=subject, timeout=5)

    assert isinstance(reply, RunSummary)
    assert (reply.id, reply.status) == ("run-7", RunStatus.RUNNING)
    assert reply.causation_id == str(query.message_id)
    assert seen == ["run-7"]  # the handler ran with the query's correlation id


async def test_an_error_reply_raises_query_failed_with_its_code(nc: Client, serve: Serve) -> None:
    async def get_run(query: GetRun) -> Reply:
        return ErrorReply(code="not_found", detail=f"no run {query.run_id}", data={"run_id": query.run_id})

    subject = await serve(get_run)
    with pytest.raises(QueryFailed) as failed:
        await request(nc, GetRun(run_id="run-404"), RunSummary, subject=subject)
    assert failed.value.reply.code == "not_found"
    assert failed.value.reply.detail == "no run run-404"
    assert failed.value.reply.data == {"run_id": "run-404"}


async def test_a_failing_handler_answers_internal(nc: Client, serve: Serve) -> None:
    async def get_run(query: GetRun) -> Reply:
        raise KeyError("lost")

    subject = await serve(get_run)
    with pytest.raises(QueryFailed) as failed:
        await request(nc, GetRun(run_id="run-1"), RunSummary, subject=subject)
    assert failed.value.reply.code == "internal"
    assert "KeyError" in failed.value.reply.detail


async def test_an_invalid_query_answers_invalid(nc: Client, serve: Serve) -> None:
    async def get_run(query: GetRun) -> Reply:
        raise AssertionError("never called")

    subject = await serve(get_run)
    msg = await nc.request(subject, b'{"not_a_run_id": 1}', timeout=5)
    assert (msg.headers or {}).get(ERROR_HEADER) == "1"
    error = ErrorReply.model_validate_json(msg.data)
    assert error.code == "invalid" and "run_id" in error.detail


async def test_nobody_answering_raises_query_failed_unavailable(nc: Client, unique_id: str) -> None:
    with pytest.raises(QueryFailed) as failed:
        await request(nc, GetRun(run_id="run-1"), RunSummary, subject=f"praxis.t{unique_id}.qry.nobody.v1")
    assert failed.value.reply.code == "unavailable"


async def test_a_responder_that_never_answers_raises_query_failed_unavailable(nc: Client, unique_id: str) -> None:
    subject = f"praxis.t{unique_id}.qry.silent.v1"
    silent = await nc.subscribe(subject)  # receives, never replies
    try:
        await sync_with_server(nc)
        with pytest.raises(QueryFailed) as failed:
            await request(nc, GetRun(run_id="run-1"), RunSummary, subject=subject, timeout=0.2)
        assert failed.value.reply.code == "unavailable"
        assert "within 0.2s" in failed.value.reply.detail
    finally:
        await silent.unsubscribe()


async def test_a_per_bench_request_naming_another_bench_answers_invalid(nc: Client, unique_id: str) -> None:
    """A bench answers on its own subject; a request there that names another bench is refused unread."""
    bench = f"b{unique_id}"

    async def describe(query: DescribeBench) -> Reply:
        return BenchDescription(bench_id=query.bench_id, simulated=True, machines=[])

    subs = await serve_queries(
        nc, [QueryRoute(DescribeBench, describe, subject_of(DescribeBench, bench_id=bench))], service=bench
    )
    await sync_with_server(nc)
    try:
        mine = await request(nc, DescribeBench(bench_id=bench), BenchDescription, timeout=5)
        forged = DescribeBench(bench_id="another-bench")
        msg = await nc.request(subject_of(DescribeBench, bench_id=bench), forged.model_dump_json().encode(), timeout=5)
    finally:
        for sub in subs:
            await sub.unsubscribe()

    assert mine.bench_id == bench
    error = ErrorReply.model_validate_json(msg.data)
    assert error.code == "invalid" and "bench_id='another-bench'" in error.detail
