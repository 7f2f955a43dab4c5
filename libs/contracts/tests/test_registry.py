"""Subjects: one owner each, the naming convention, templated decoding, and which stream carries what."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import ClassVar

import pytest
from pydantic import ValidationError

import praxis_contracts
from praxis_contracts.base import Command, Event, Message, Query, Reply
from praxis_contracts.common import DeadLetter
from praxis_contracts.hardware import BenchHeartbeat, MachineCall
from praxis_contracts.registry import (
    MESSAGE_MODULES,
    DuplicateSubject,
    SubjectMismatch,
    UnknownSubject,
    all_message_classes,
    build_table,
    class_for,
    decode,
    encode,
    subject_of,
    subject_pattern,
)
from praxis_contracts.streams import ALL_STREAMS, stream_for

GENERAL = re.compile(
    r"praxis\.(?P<owner>[a-z][a-z0-9-]*)\.(?P<kind>evt|cmd|qry)\.(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)"
)
PER_BENCH = re.compile(
    r"praxis\.bench\.\{bench_id\}\.(?P<kind>cmd|qry)\.(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)"
)
PER_BENCH_EVENT = re.compile(
    r"praxis\.hardware\.(?P<kind>evt)\.\{bench_id\}\.(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)"
)
KINDS = {"cmd": Command, "evt": Event, "qry": Query}


# -------------------------------------------------------------------------------------- one owner each


def test_the_real_registry_has_no_duplicate_subject() -> None:
    exact, templated = build_table(all_message_classes())
    assert len(exact) + len(templated) == len(all_message_classes())


def test_two_classes_with_one_subject_fail_the_registry_check() -> None:
    class RunQueuedAgain(Event):
        subject: ClassVar[str] = "praxis.scheduler.evt.run_queued.v1"

    with pytest.raises(DuplicateSubject, match=r"run_queued\.v1.*RunQueuedAgain.*already claimed by.*RunQueued"):
        build_table([*all_message_classes(), RunQueuedAgain])

    class First(Event):
        subject: ClassVar[str] = "praxis.test.evt.same.v1"

    class Second(Event):
        subject: ClassVar[str] = "praxis.test.evt.same.v1"

    with pytest.raises(DuplicateSubject, match="Second"):
        build_table([First, Second])


def test_templated_subjects_clash_by_shape_and_with_exact_subjects_they_match() -> None:
    class ByBenchId(Command):
        subject: ClassVar[str] = "praxis.bench.{bench_id}.cmd.ping.v1"

    class ById(Command):
        subject: ClassVar[str] = "praxis.bench.{id}.cmd.ping.v1"

    class OneBench(Command):
        subject: ClassVar[str] = "praxis.bench.b1.cmd.ping.v1"

    with pytest.raises(DuplicateSubject):
        build_table([ByBenchId, ById])
    with pytest.raises(DuplicateSubject):
        build_table([ByBenchId, OneBench])
    with pytest.raises(DuplicateSubject):
        build_table([OneBench, ByBenchId])


def test_a_subclass_declares_its_own_subject(message_classes: list[type[Message]]) -> None:
    """``class RunQueuedV2(RunQueued)`` without a subject would publish v2 payloads on the v1 subject."""
    inherited = [c.__qualname__ for c in message_classes if c.subject and "subject" not in vars(c)]
    assert not inherited, f"these classes inherit their parent's subject: {inherited}"


def test_every_module_with_routed_messages_is_registered() -> None:
    unregistered = []
    for info in pkgutil.iter_modules(praxis_contracts.__path__):
        module = importlib.import_module(f"praxis_contracts.{info.name}")
        routed = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, Message)
            and obj.__module__ == module.__name__
            and vars(obj).get("subject")
        ]
        if routed and info.name not in MESSAGE_MODULES:
            unregistered.append(info.name)
    assert not unregistered, f"add {unregistered} to registry.MESSAGE_MODULES, or decode() cannot find them"


# ------------------------------------------------------------------------------------------- naming


def test_subject_follows_the_naming_convention(routed_class: type[Message]) -> None:
    subject = routed_class.subject
    if routed_class is DeadLetter:
        assert subject == "praxis.dlq.{service}"
        return
    match = GENERAL.fullmatch(subject) or PER_BENCH.fullmatch(subject) or PER_BENCH_EVENT.fullmatch(subject)
    assert match, (
        f"{routed_class.__qualname__}: {subject!r} is neither praxis.<owner>.<evt|cmd|qry>.<name>.v<N>, "
        f"praxis.bench.{{bench_id}}.<cmd|qry>.<name>.v<N> nor praxis.hardware.evt.{{bench_id}}.<name>.v<N>"
    )
    family = KINDS[match["kind"]]
    assert issubclass(routed_class, family), f"{subject} is a {match['kind']} but {routed_class} is no {family}"
    version = int(match["version"])
    if version > 1:
        assert routed_class.__name__.endswith(f"V{version}"), "a .vN subject (N > 1) belongs to a class named ...VN"
    for placeholder in re.findall(r"\{(\w+)\}", subject):  # subject_of() fills them from the message
        assert placeholder in routed_class.model_fields


def test_replies_have_no_subject(message_classes: list[type[Message]]) -> None:
    routed_replies = [c.__qualname__ for c in message_classes if issubclass(c, Reply) and c.subject]
    assert not routed_replies


# ------------------------------------------------------------------------------------------- decoding


def machine_call(bench_id: str = "bench-7") -> MachineCall:
    return MachineCall(bench_id=bench_id, run_id="r1", sequence=3, machine="lh", method="aspirate", args={"v": [1]})


def test_decode_of_a_templated_subject() -> None:
    call = machine_call()
    subject = subject_of(call)
    assert subject == "praxis.bench.bench-7.cmd.machine_call.v1"
    assert subject_of(MachineCall, bench_id="b9") == "praxis.bench.b9.cmd.machine_call.v1"
    decoded = decode(subject, encode(call))
    assert isinstance(decoded, MachineCall) and decoded == call
    assert class_for("praxis.dlq.scheduler") is DeadLetter


def test_a_placeholder_matches_exactly_one_token() -> None:
    with pytest.raises(UnknownSubject):
        decode("praxis.bench.two.tokens.cmd.machine_call.v1", encode(machine_call()))
    with pytest.raises(UnknownSubject):
        decode("praxis.bench..cmd.machine_call.v1", encode(machine_call()))


def test_decode_refuses_unknown_subjects_and_invalid_payloads() -> None:
    with pytest.raises(UnknownSubject, match=r"praxis\.nobody\.evt\.nothing\.v1"):
        decode("praxis.nobody.evt.nothing.v1", b"{}")
    with pytest.raises(ValidationError):
        decode(MachineCall.subject.format(bench_id="b1"), b"{not json")
    with pytest.raises(ValidationError, match="sequence"):
        decode(MachineCall.subject.format(bench_id="b1"), b'{"bench_id": "b1", "run_id": "r", "machine": "m"}')


# -------------------------------------------------------------------------------------------- streams


def test_events_and_service_commands_have_a_stream_and_queries_none(routed_class: type[Message]) -> None:
    subject = routed_class.subject.replace("{service}", "svc")
    spec = stream_for(subject)
    if issubclass(routed_class, Event):  # events (and dead letters) are kept, so projections can be rebuilt
        assert spec is not None and spec.retention == "limits", subject
    elif issubclass(routed_class, Query) or subject.startswith("praxis.bench."):
        # request/reply on core NATS: a stream capturing it would answer the request with a PubAck
        assert spec is None, f"{subject} is request/reply but captured by stream {spec and spec.name}"
    else:
        assert issubclass(routed_class, Command)
        assert spec is not None and spec.retention == "workqueue", subject


def test_stream_specs_are_consistent() -> None:
    names = [s.name for s in ALL_STREAMS]
    assert len(names) == len(set(names))
    filters = [f for s in ALL_STREAMS for f in s.subjects]
    assert len(filters) == len(set(filters))
    for spec in ALL_STREAMS:
        assert spec.duplicate_window_s <= spec.max_age_s, f"{spec.name}: NATS refuses a dedupe window > max_age"
        for pattern in spec.subjects:
            others = [s.name for s in ALL_STREAMS if s is not spec and stream_for(pattern.replace(">", "x"), (s,))]
            assert not others, f"{pattern} of {spec.name} overlaps {others}"


def test_a_per_bench_event_must_name_the_bench_of_its_subject() -> None:
    """NATS permissions decide who may publish on ``praxis.hardware.evt.<bench>...``; a payload naming another
    bench is refused rather than believed."""
    heartbeat = BenchHeartbeat(bench_id="b1", sequence=1, interval_s=2.0)

    assert subject_of(heartbeat) == "praxis.hardware.evt.b1.bench_heartbeat.v1"
    assert decode(subject_of(heartbeat), encode(heartbeat)) == heartbeat
    with pytest.raises(SubjectMismatch, match="bench_id='b1'"):
        decode("praxis.hardware.evt.b2.bench_heartbeat.v1", encode(heartbeat))
    assert subject_pattern(BenchHeartbeat) == "praxis.hardware.evt.*.bench_heartbeat.v1"
