"""Who may publish and subscribe to what on NATS: one least-privilege grant per identity, from the contracts.

Pure data and functions, no I/O. ``praxis_natsauth`` turns a :class:`Grant` into the permissions of a NATS user
JWT, so the *server* enforces them: an identity that is not granted a subject cannot publish or subscribe to it,
whatever code runs with its credentials.

Each identity's :class:`Role` says what its code really does on NATS, in terms of message classes; subjects are
computed from the registry, never typed twice:

* ``emits``: the owner whose events it publishes (its outbox relay, or the agent's JetStream publishes);
* ``sends``: commands it publishes to JetStream (the gateway: the scheduler's and the executor's);
* ``asks`` / ``answers``: queries it requests / serves (answering needs ``allow_responses``: publishing to the
  reply subject of a request it received, and nothing else);
* ``consumes``: durable JetStream pull consumers (servicekit's ``Consumer``): creating one *with that filter* on
  that stream, fetching from that stream and acking its messages;
* ``listens``: plain core-NATS subscriptions;
* ``streams``: ``manage`` creates and updates the Praxis streams (``bus.ensure_streams``; never deletes, never
  another name), ``check`` only reads their info;
* ``dead_letters``: the ``praxis.dlq.<service>`` it publishes to.

Every identity receives replies (query answers, JetStream acks) on its own inbox prefix ``_INBOX_<identity>``,
not the shared ``_INBOX.``: nobody can read another identity's replies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from praxis_contracts.base import Command, Event, Message, Query
from praxis_contracts.common import dlq_subject, health_subject
from praxis_contracts.discovery import GetProtocolSource
from praxis_contracts.executor import (
    CancelRun,
    PauseRun,
    RecoverRun,
    ResumeRun,
    RunControlRequested,
    RunFinished,
    RunLeaseRenewed,
    RunStarted,
)
from praxis_contracts.hardware import (
    BenchAnnounced,
    BenchHeartbeat,
    BenchOffline,
    DescribeBench,
    MachineStatusChanged,
)
from praxis_contracts.registry import all_message_classes
from praxis_contracts.scheduler import (
    LeaseExpired,
    ListReservations,
    ReservationReleased,
    RunQueued,
    RunRejected,
    RunScheduled,
    RunWaiting,
    SubmitRun,
)
from praxis_contracts.streams import ALL_STREAMS, StreamSpec, stream_for

SERVICES = ("discovery", "scheduler", "executor", "gateway")
"""The central services; each has one identity of that name."""

AGENT_PREFIX = "agent-"
AGENT_HEALTH_SERVICE = "hardware-agent"
BENCH_PLACEHOLDER = "{bench_id}"
WORKER_ROLE = "run-worker"

_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")
_VERSION = re.compile(r"v[0-9]+\Z")


class StreamAccess(StrEnum):
    MANAGE = "manage"
    CHECK = "check"
    NONE = "none"


@dataclass(frozen=True)
class Role:
    """What one identity does on NATS (see the module docstring for each field)."""

    identity: str
    emits: str | None = None
    bench: str = "*"
    """The bench of a per-bench identity (an agent): its events' ``{bench_id}``; ``*`` for the central services."""
    sends: tuple[type[Message], ...] = ()
    asks: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    consumes: tuple[type[Message], ...] = ()
    listens: tuple[str, ...] = ()
    streams: StreamAccess = StreamAccess.NONE
    dead_letters: str | None = None


@dataclass(frozen=True)
class Grant:
    """The subjects an identity may publish and subscribe to (NATS wildcards allowed), nothing else."""

    identity: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False


# ---------------------------------------------------------------------------------------------- subjects


def check_token(value: str, what: str) -> str:
    """``value`` if it is one NATS subject token of letters, digits, ``_`` and ``-``; else a clear ValueError."""
    if not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} must be one subject token: letters, digits, '_' or '-'")
    return value


def owner_of(cls: type[Message]) -> str:
    """The owner token of a subject: ``praxis.<owner>.<kind>...`` (``bench`` for per-bench subjects)."""
    return cls.subject.split(".")[1]


def owned(owner: str, kind: type[Message]) -> tuple[type[Message], ...]:
    """Every registered message class of ``kind`` (Event, Command, Query) whose subject ``owner`` owns."""
    return tuple(c for c in all_message_classes() if issubclass(c, kind) and owner_of(c) == owner)


def subjects(classes: Iterable[type[Message]], bench: str = "*") -> tuple[str, ...]:
    """The subjects of ``classes``; a ``{bench_id}`` placeholder becomes ``bench`` (default: any bench)."""
    return tuple(c.subject.replace(BENCH_PLACEHOLDER, bench) for c in classes)


def bench_subjects(bench: str) -> tuple[str, ...]:
    """The per-bench request subjects of one bench (an agent answers them, a run worker sends them).

    ``bench`` is not checked here, so the scoped signing key's template can pass ``{{tag(bench)}}``.
    """
    per_bench = [c for c in all_message_classes() if c.subject.startswith(f"praxis.bench.{BENCH_PLACEHOLDER}.")]
    return subjects(per_bench, bench)


def inbox_prefix(identity: str) -> str:
    """Where ``identity`` receives replies: connect with this ``inbox_prefix`` (it may subscribe nothing else)."""
    return f"_INBOX_{identity}"


def agent_identity(bench_id: str) -> str:
    return AGENT_PREFIX + check_token(bench_id, "bench id")


def matches(pattern: str, subject: str) -> bool:
    """NATS matching: ``*`` is one token, a trailing ``>`` one or more. A ``*`` in ``subject`` only matches a
    ``*`` or ``>`` in the pattern, so a subject with a wildcard stands for *every* subject it covers."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i and ">" not in tokens[:i]
        if i >= len(tokens) or tokens[i] == ">" or token not in ("*", tokens[i]):
            return False
    return len(tokens) == len(wanted)


def allows(patterns: Iterable[str], subject: str) -> bool:
    """Whether any of ``patterns`` (a grant's publish or subscribe list) covers ``subject``."""
    return any(matches(pattern, subject) for pattern in patterns)


def version_wildcard(subject: str) -> str:
    """``...cancel_run.v1`` -> ``...cancel_run.*``: the filter servicekit's consumers use for a message."""
    head, _, last = subject.rpartition(".")
    return f"{head}.*" if head and _VERSION.match(last) else subject


# ------------------------------------------------------------------------------------------------ roles


def _answers(owner: str, health: str) -> tuple[str, ...]:
    return (*subjects(owned(owner, Query)), health_subject(health))


def service_roles() -> dict[str, Role]:
    """The four central services, as their bootstrap modules and servicekit wire them."""
    return {
        "discovery": Role(
            "discovery",
            emits="discovery",
            answers=_answers("discovery", "discovery"),
            streams=StreamAccess.MANAGE,
            dead_letters="discovery",
        ),
        "scheduler": Role(
            "scheduler",
            emits="scheduler",
            answers=_answers("scheduler", "scheduler"),
            consumes=(
                *(SubmitRun, BenchAnnounced, BenchHeartbeat, BenchOffline, MachineStatusChanged),
                *(RunStarted, RunFinished, RunLeaseRenewed),
            ),
            streams=StreamAccess.MANAGE,
            dead_letters="scheduler",
        ),
        "executor": Role(
            "executor",
            emits="executor",
            asks=subjects([GetProtocolSource, DescribeBench]),  # a worker's inputs (JobInputs)
            answers=_answers("executor", "executor"),
            consumes=(CancelRun, PauseRun, ResumeRun, RecoverRun, RunQueued, RunScheduled, RunRejected, RunWaiting),
            listens=subjects([RunControlRequested]),
            streams=StreamAccess.MANAGE,
            dead_letters="executor",
        ),
        "gateway": Role(
            "gateway",
            sends=owned("scheduler", Command) + owned("executor", Command),
            asks=subjects(q for owner in ("discovery", "scheduler", "executor") for q in owned(owner, Query))
            + tuple(health_subject(s) for s in ("discovery", "scheduler", "executor", AGENT_HEALTH_SERVICE)),
            listens=("praxis.executor.evt.>",),  # the WebSocket event hub
            streams=StreamAccess.MANAGE,
        ),
    }


def agent_role(bench_id: str) -> Role:
    """A hardware agent: its own bench's subjects and the hardware events, plus what its holdings feed needs
    (the events that move reservations, and the scheduler's reservation list). No stream management."""
    return Role(
        agent_identity(bench_id),
        emits="hardware",
        bench=bench_id,
        asks=subjects([ListReservations]),
        answers=(*bench_subjects(bench_id), health_subject(AGENT_HEALTH_SERVICE)),
        listens=subjects([RunScheduled, ReservationReleased, LeaseExpired, RunFinished]),
        streams=StreamAccess.CHECK,
    )


# ----------------------------------------------------------------------------------------------- grants


def _stream_api(access: StreamAccess, streams: Sequence[StreamSpec]) -> list[str]:
    verbs = {StreamAccess.MANAGE: ("INFO", "CREATE", "UPDATE"), StreamAccess.CHECK: ("INFO",)}.get(access, ())
    return [f"$JS.API.STREAM.{verb}.{spec.name}" for spec in streams for verb in verbs]


def _consumer_api(consumes: Iterable[type[Message]]) -> list[str]:
    """Create a consumer with exactly this filter (the server checks it against the request), look it up,
    fetch from it and ack its messages. Consumer names are not narrowed: a NATS wildcard is a whole token."""
    allowed: list[str] = []
    for cls in consumes:
        spec = stream_for(cls.subject)
        if spec is None:
            raise ValueError(f"{cls.__name__} ({cls.subject}) is on no stream: nothing can consume it durably")
        allowed.append(f"$JS.API.CONSUMER.CREATE.{spec.name}.*.{version_wildcard(subjects([cls])[0])}")
        for api in (f"$JS.API.CONSUMER.INFO.{spec.name}.*", f"$JS.API.CONSUMER.MSG.NEXT.{spec.name}.*"):
            allowed.append(api)
        allowed.append(f"$JS.ACK.{spec.name}.>")
    return allowed


def grant(role: Role) -> Grant:
    """The NATS permissions of ``role``: exactly what its code needs, in a stable order without repeats."""
    publish: list[str] = []
    if role.emits is not None:
        publish += subjects(owned(role.emits, Event), role.bench)
    publish += subjects(role.sends)
    publish += role.asks
    if role.dead_letters is not None:
        publish.append(dlq_subject(role.dead_letters))
    publish += _stream_api(role.streams, ALL_STREAMS)
    publish += _consumer_api(role.consumes)
    subscribe = [f"{inbox_prefix(role.identity)}.>", *role.answers, *role.listens]
    return Grant(role.identity, _unique(publish), _unique(subscribe), allow_responses=bool(role.answers))


def worker_grant(run_id: str, benches: Sequence[str]) -> Grant:
    """A run worker: requests to its assigned benches' subjects and replies on its own inbox; no JetStream."""
    check_token(run_id, "run id")
    if run_id in SERVICES or run_id.startswith(AGENT_PREFIX):  # its inbox would be that identity's
        raise ValueError(f"run id {run_id!r} is the name of a Praxis identity")
    if not benches:
        raise ValueError("a run worker needs at least one bench")
    publish = [s for bench in benches for s in bench_subjects(check_token(bench, "bench id"))]
    return Grant(f"{WORKER_ROLE}-{run_id}", _unique(publish), (f"{inbox_prefix(run_id)}.>",))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
