"""The NATS permission table against the registry: every subject has someone who may publish it, every query
someone who may answer it, and nobody may do more than their code does (no stream deletion, no other bench)."""

from __future__ import annotations

import pytest

from praxis_contracts.base import Command, Event, Message, Query
from praxis_contracts.common import DeadLetter
from praxis_contracts.permissions import (
    SERVICES,
    Grant,
    agent_role,
    allows,
    bench_subjects,
    grant,
    inbox_prefix,
    matches,
    owned,
    owner_of,
    service_roles,
    worker_grant,
)
from praxis_contracts.registry import all_message_classes, subject_of
from praxis_contracts.streams import ALL_STREAMS, stream_for

BENCH = "b1"


def _grants() -> list[Grant]:
    return [*(grant(role) for role in service_roles().values()), grant(agent_role(BENCH)), worker_grant("r1", [BENCH])]


def _concrete(cls: type[Message]) -> str:
    return cls.subject.replace("{bench_id}", BENCH).replace("{service}", "scheduler")


def _publishers(subject: str) -> set[str]:
    return {g.identity for g in _grants() if allows(g.publish, subject)}


@pytest.mark.parametrize("cls", [c for c in all_message_classes() if issubclass(c, Command | Event | Query)])
def test_every_subject_in_the_registry_has_someone_who_may_publish_it(cls: type[Message]) -> None:
    assert _publishers(_concrete(cls)), f"nobody may publish {cls.__name__} ({cls.subject})"


@pytest.mark.parametrize("cls", [c for c in all_message_classes() if issubclass(c, Event) and c is not DeadLetter])
def test_an_event_has_one_publisher_its_owner(cls: type[Message]) -> None:
    expected = {f"agent-{BENCH}"} if owner_of(cls) == "hardware" else {owner_of(cls)}
    assert _publishers(_concrete(cls)) == expected


@pytest.mark.parametrize("cls", [c for c in all_message_classes() if issubclass(c, Query)])
def test_every_query_has_an_answerer(cls: type[Message]) -> None:
    subject = _concrete(cls)
    answerers = [g for g in _grants() if allows(g.subscribe, subject)]
    assert answerers and all(g.allow_responses for g in answerers)


def test_every_consumed_message_is_on_a_stream_and_published_by_someone_else() -> None:
    for name, role in service_roles().items():
        for cls in role.consumes:
            assert stream_for(cls.subject) is not None
            assert _publishers(_concrete(cls)) - {name}, f"{name} consumes {cls.__name__}, which nobody sends"


def test_only_the_central_services_manage_streams_and_nobody_deletes_or_invents_one() -> None:
    for g in _grants():
        for spec in ALL_STREAMS:
            assert not allows(g.publish, f"$JS.API.STREAM.DELETE.{spec.name}")
            assert allows(g.publish, f"$JS.API.STREAM.CREATE.{spec.name}") == (g.identity in SERVICES)
        assert not allows(g.publish, "$JS.API.STREAM.CREATE.ROGUE")
        assert not allows(g.publish, "$JS.API.STREAM.PURGE.PRAXIS_EXECUTOR_EVT")


def test_each_identity_reads_replies_on_its_own_inbox_only() -> None:
    for g in _grants():
        assert not allows(g.subscribe, "_INBOX.x.y")
        inboxes = [s for s in g.subscribe if s.startswith("_INBOX")]
        assert len(inboxes) == 1
    assert allows(grant(service_roles()["gateway"]).subscribe, f"{inbox_prefix('gateway')}.abc.1")


def test_an_agent_keeps_to_its_own_bench() -> None:
    mine, other = grant(agent_role(BENCH)), grant(agent_role("b2"))
    for subject in bench_subjects(BENCH):
        assert allows(mine.subscribe, subject) and not allows(other.subscribe, subject)
        assert not allows(mine.publish, subject)  # it answers (allow_responses), it does not call itself
    assert mine.allow_responses
    assert all(
        matches(f"praxis.hardware.evt.{BENCH}.>", s) or s.startswith("$JS.API.STREAM.INFO.") or ".qry." in s
        for s in mine.publish
    )
    for cls in owned("hardware", Event):  # its own bench's events, never another's
        assert allows(mine.publish, subject_of(cls, bench_id=BENCH))
        assert not allows(mine.publish, subject_of(cls, bench_id="b2"))


def test_a_worker_sends_requests_to_its_benches_only_and_touches_no_jetstream() -> None:
    g = worker_grant("r1", ["b1", "b2"])
    assert set(g.publish) == set(bench_subjects("b1")) | set(bench_subjects("b2"))
    assert g.subscribe == ("_INBOX_r1.>",) and not g.allow_responses
    assert not allows(g.publish, "praxis.bench.b3.cmd.machine_call.v1")
    assert not any(s.startswith("$JS") for s in g.publish)


def test_the_bench_requests_are_the_four_a_worker_needs() -> None:
    assert {s.split(".", 3)[3] for s in bench_subjects("x")} == {
        "cmd.machine_call.v1",
        "cmd.load_run_deck.v1",
        "cmd.end_run.v1",
        "qry.describe.v1",
    }


@pytest.mark.parametrize(("run_id", "benches"), [("a.b", ["b1"]), ("r1", []), ("r1", ["b*"]), ("executor", ["b1"])])
def test_a_worker_grant_refuses_bad_tokens(run_id: str, benches: list[str]) -> None:
    with pytest.raises(ValueError):
        worker_grant(run_id, benches)


def test_matching_follows_nats() -> None:
    assert matches("a.*.c", "a.b.c") and matches("a.>", "a.b.c") and not matches("a.>", "a")
    assert matches("a.*", "a.*") and not matches("a.b", "a.*") and not matches("a.*", "a.>")
