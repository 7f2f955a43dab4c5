"""Small pieces: dependency injection, stream setup, the /metrics endpoint, and no SQLAlchemy on a bench PC."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any, ClassVar

import pytest
from nats.js import JetStreamContext

from praxis_contracts.executor import CancelRun, GetRun, RunSummary
from praxis_contracts.hardware import EndRun
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import RunQueued
from praxis_contracts.streams import StreamSpec
from praxis_servicekit import metrics
from praxis_servicekit.bus import ensure_streams
from praxis_servicekit.consumer import Subscription, check_subscriptions, subject_matches, version_wildcard
from praxis_servicekit.handlers import inject, query_routes_for, subscriptions_for


async def cancel_run(message: CancelRun, uow: Any, *, clock: Any, settings: Any = None) -> None:
    uow.append((message.run_id, clock(), settings))


async def on_run_queued(message: RunQueued, uow: Any, *, clock: Any) -> None:
    return None


async def get_run(query: GetRun, uow: Any, *, clock: Any) -> RunSummary:
    return RunSummary(id=query.run_id, protocol_id=str(clock()), status=RunStatus.QUEUED)


async def test_inject_binds_dependencies_by_parameter_name() -> None:
    calls: list[Any] = []
    handler = inject(cancel_run, {"clock": lambda: "now", "unused": object()})
    await handler(CancelRun(run_id="r1"), calls)
    assert calls == [("r1", "now", None)]  # an optional dependency the service lacks keeps its default
    assert handler.__name__ == "cancel_run"


def test_inject_refuses_a_handler_whose_dependency_is_missing() -> None:
    with pytest.raises(TypeError, match=r"cancel_run needs \['clock'\]"):
        inject(cancel_run, {})


async def test_subscriptions_and_query_routes_from_handler_tables() -> None:
    subs = subscriptions_for(
        "executor", {CancelRun: cancel_run}, {RunQueued: [on_run_queued]}, {"clock": lambda: 1}, max_deliver=3
    )
    assert [(s.message_type, s.durable_name("executor"), s.max_deliver) for s in subs] == [
        (CancelRun, "executor-CancelRun", 3),
        (RunQueued, "executor-RunQueued-on_run_queued", 3),  # one durable per (event, handler)
    ]
    (route,) = query_routes_for({GetRun: get_run}, None, {"clock": lambda: "p"})
    assert route.subject_filter() == GetRun.subject
    reply = await route.handler(GetRun(run_id="r9"))
    assert isinstance(reply, RunSummary) and (reply.id, reply.protocol_id) == ("r9", "p")


class CancelRunV2(CancelRun):
    subject: ClassVar[str] = "praxis.executor.cmd.cancel_run.v2"


class RunQueuedV2(RunQueued):
    subject: ClassVar[str] = "praxis.scheduler.evt.run_queued.v2"


async def cancel_run_v2(message: CancelRunV2, uow: Any, *, clock: Any) -> None:
    uow.append(("v2", message.run_id))


@pytest.mark.parametrize(
    ("subject", "wildcard"),
    [
        ("praxis.executor.cmd.cancel_run.v1", "praxis.executor.cmd.cancel_run.*"),
        ("praxis.bench.b1.cmd.end_run.v12", "praxis.bench.b1.cmd.end_run.*"),  # a templated subject, filled in
        ("praxis.bench.b1.>", "praxis.bench.b1.>"),  # already a wildcard
        ("praxis.x.evt.v1beta", "praxis.x.evt.v1beta"),  # not a version token
    ],
)
def test_a_consumer_filters_on_the_version_wildcard(subject: str, wildcard: str) -> None:
    assert version_wildcard(subject) == wildcard
    assert subject_matches(wildcard, subject)


def test_subject_matching() -> None:
    assert subject_matches("a.*.c", "a.b.c") and not subject_matches("a.*.c", "a.b.c.d")
    assert subject_matches("a.>", "a.b.c") and not subject_matches("a.>", "a")


async def test_versions_of_one_command_share_one_consumer_named_after_the_oldest() -> None:
    calls: list[Any] = []
    (sub,) = subscriptions_for(
        "executor", {CancelRunV2: cancel_run_v2, CancelRun: cancel_run}, {}, {"clock": lambda: 1}
    )
    assert (sub.message_type, sub.durable_name("executor")) == (CancelRun, "executor-CancelRun")  # as before v2
    assert sub.filter_subject() == "praxis.executor.cmd.cancel_run.*"
    routes = sub.routes()
    assert sorted(routes) == ["praxis.executor.cmd.cancel_run.v1", "praxis.executor.cmd.cancel_run.v2"]
    await routes["praxis.executor.cmd.cancel_run.v2"].handler(CancelRunV2(run_id="r2"), calls)
    assert calls == [("v2", "r2")]


def test_versions_of_one_event_in_separate_consumers_are_refused_at_wiring_time() -> None:
    with pytest.raises(ValueError, match=r"handle versions of one message separately.*versions=\{RunQueuedV2"):
        subscriptions_for("executor", {}, {RunQueued: [on_run_queued], RunQueuedV2: [on_run_queued]}, {"clock": 1})


def test_a_subscription_refuses_a_version_of_another_message() -> None:
    with pytest.raises(ValueError, match=r"EndRun .* is not another version of CancelRun"):
        Subscription(CancelRun, cancel_run, versions={EndRun: cancel_run})
    with pytest.raises(ValueError, match=r"has no trailing \.vN"):
        Subscription(CancelRun, cancel_run, subject="praxis.executor.cmd.>", versions={CancelRunV2: cancel_run})


def test_check_subscriptions_accepts_several_handlers_of_the_same_versions() -> None:
    subs = [Subscription(RunQueued, on_run_queued, durable=f"d{i}") for i in range(2)]  # two projections
    check_subscriptions(subs, "scheduler")


@pytest.mark.integration
async def test_ensure_streams_creates_then_updates_idempotently(js: JetStreamContext, unique_id: str) -> None:
    spec = StreamSpec(name=f"PRAXIS_TEST_{unique_id.upper()}", subjects=(f"praxis.t{unique_id}.evt.>",), max_age_s=600)
    try:
        await ensure_streams(js, (spec,))
        await ensure_streams(js, (spec,))  # every replica at every boot
        changed = StreamSpec(name=spec.name, subjects=spec.subjects, max_age_s=1200, duplicate_window_s=30)
        await ensure_streams(js, (changed,))
        info = await js.stream_info(spec.name)
        assert (info.config.max_age, info.config.duplicate_window) == (1200, 30)
    finally:
        await js.delete_stream(spec.name)


async def _http_get(port: int, path: str) -> tuple[str, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


async def test_metrics_and_healthz_endpoint() -> None:
    healthy = [True]
    server, port = await metrics.serve_http("127.0.0.1", -1, lambda: healthy[0])
    try:
        metrics.MESSAGES.labels("plumbing-test", "praxis.x.evt.y.v1", "ok").inc()
        status, body = await _http_get(port, "/metrics")
        assert status == "HTTP/1.1 200 OK"
        assert b'praxis_messages_total{outcome="ok",service="plumbing-test",subject="praxis.x.evt.y.v1"}' in body
        assert (await _http_get(port, "/healthz"))[0] == "HTTP/1.1 200 OK"
        healthy[0] = False
        assert (await _http_get(port, "/healthz"))[0] == "HTTP/1.1 503 Service Unavailable"
        assert (await _http_get(port, "/nope"))[0] == "HTTP/1.1 404 Not Found"
    finally:
        server.close()
        await server.wait_closed()


def test_the_database_free_parts_import_without_sqlalchemy() -> None:
    """The hardware agent depends on servicekit without the ``db`` extra: nothing it imports may need SQLAlchemy."""
    code = (
        "import sys\n"
        "sys.modules['sqlalchemy'] = None; sys.modules['alembic'] = None; sys.modules['asyncpg'] = None\n"
        "import praxis_servicekit.service, praxis_servicekit.cli, praxis_servicekit.consumer\n"
        "import praxis_servicekit.queries, praxis_servicekit.handlers, praxis_servicekit.bus\n"
        "import praxis_servicekit.periodic, praxis_servicekit.metrics, praxis_servicekit.settings\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
