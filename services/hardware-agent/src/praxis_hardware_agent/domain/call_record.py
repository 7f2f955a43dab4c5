"""The agent's record of machine calls: what a key was, whether it ended, and how a repeat is answered.

A machine call's idempotency key is ``(run_id, sequence)``. The executor resumes a crashed run by replaying the
protocol and re-sends the calls its journal lost with the same keys, so the agent's record must say, for every
key, one of: never seen (perform it), *done* (answer the recorded result, whatever machine action it stood for),
or *started* (an earlier agent process began it on a real instrument and died before recording the end: nobody
knows whether the device acted, and only an operator may decide to perform it again).

The rules here are pure; :class:`CallStore` is the durable part (a SQLite file on the bench PC in production).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal, Protocol

from praxis_contracts.hardware import CallRefusal, MachineCall, MachineCallResult

REFUSALS = frozenset(r.value for r in CallRefusal)


class CallState(StrEnum):
    STARTED = "started"
    """The intent was recorded before a real instrument was invoked; no result was recorded (yet)."""
    DONE = "done"
    """The result (ok or the device's error) is recorded; it is the answer to every repeat of the key."""


@dataclass(frozen=True)
class StoredCall:
    """One key of the record. ``result`` is set exactly when ``state`` is ``done``."""

    key: str
    run_id: str
    sequence: int
    machine: str
    method: str
    digest: str
    epoch: int
    state: CallState
    started_at: float
    result: MachineCallResult | None = None

    @classmethod
    def intent(cls, call: MachineCall, digest: str, at: float) -> StoredCall:
        return cls(
            key=call.idempotency_key,
            run_id=call.run_id,
            sequence=call.sequence,
            machine=call.machine,
            method=call.method,
            digest=digest,
            epoch=call.epoch,
            state=CallState.STARTED,
            started_at=at,
        )

    def done(self, result: MachineCallResult) -> StoredCall:
        return replace(self, state=CallState.DONE, result=result)


@dataclass(frozen=True)
class RunCalls:
    """What the record says about one run: the proof (or not) that each call was performed exactly once."""

    run_id: str
    performed: int = 0
    """Invocations of backend methods (one per actual device action, repeats included)."""
    duplicated: list[int] = field(default_factory=list)
    """Sequences invoked more than once (an operator's retry of an unknown outcome, or a bug)."""
    unknown: list[int] = field(default_factory=list)
    """Sequences started on a real instrument whose end was never recorded (the agent died mid-call)."""
    max_sequence: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "performed": self.performed,
            "duplicated": self.duplicated,
            "unknown": self.unknown,
            "max_sequence": self.max_sequence,
        }


class CallStore(Protocol):
    """The durable record. Synchronous on purpose: every operation is a local SQLite statement (tens of µs),
    and keeping them free of ``await`` makes "check the key, then claim it" atomic on the event loop."""

    def get(self, key: str) -> StoredCall | None:
        """The record of ``key``, or None if it was never recorded (or has expired)."""
        ...

    def observe_run(self, run_id: str, epoch: int) -> int:
        """Remember that ``run_id`` was seen with ``epoch``; returns the highest epoch seen for it (durably)."""
        ...

    def start(self, intent: StoredCall) -> None:
        """Durably record that ``intent`` is about to be invoked on a real instrument (never downgrades done)."""
        ...

    def finish(self, call: StoredCall, *, performed: bool) -> None:
        """In one transaction: record ``call``'s result as done (the first result wins) and, if the backend was
        invoked, append one ``performed`` row."""
        ...

    def sweep(self, older_than: float) -> int:
        """Forget calls, invocations and runs last touched before the unix time ``older_than``; returns rows."""
        ...

    def summary(self, run_id: str | None = None) -> list[RunCalls]:
        """Per run (or for one): invocations, duplicated and unknown sequences."""
        ...

    def close(self) -> None: ...


def call_digest(machine: str, method: str, args: dict[str, Any]) -> str:
    """What the call *was*, as a stable hash: the same key must always mean the same action."""
    canonical = json.dumps([machine, method, args], sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_refusal(result: MachineCallResult) -> bool:
    """A refusal says the agent did not act on this request (nothing performed, nothing recorded)."""
    return not result.ok and result.error_type in REFUSALS


def refusal(call: MachineCall, reason: CallRefusal, message: str) -> MachineCallResult:
    return MachineCallResult(
        ok=False,
        error_type=reason.value,
        error=message,
        correlation_id=call.correlation_id or call.run_id,
        causation_id=str(call.message_id),
    )


@dataclass(frozen=True)
class Decision:
    action: Literal["replay", "refuse", "perform"]
    refusal: CallRefusal | None = None
    reason: str = ""


def judge(stored: StoredCall, call: MachineCall, digest: str, *, simulated: bool = False) -> Decision:
    """How to answer a request whose key is in the record (and not in flight in this process).

    A different action under the same key means the run's replay diverged from its first execution: refused,
    never performed and never answered with the other action's result. A *started* key (left by an earlier agent
    process) is not performed again unless an operator chose to (``perform_if_unknown``), because the instrument
    may already have acted; on a ``simulated`` machine it is, because the effect died with that process.
    """
    diverged = conflict(stored, call, digest)
    if diverged is not None:
        return Decision("refuse", CallRefusal.CONFLICT, diverged)
    if stored.state is CallState.DONE:
        return Decision("replay")
    if call.perform_if_unknown:
        return Decision("perform", reason="an operator chose to retry a call whose outcome is unknown")
    if simulated:
        return Decision("perform", reason="a simulated machine's effect ended with the agent process that started it")
    return Decision(
        "refuse",
        CallRefusal.OUTCOME_UNKNOWN,
        f"{stored.machine}.{stored.method} (key {stored.key}) was started on the instrument and the agent stopped "
        "before recording how it ended: check the instrument, then retry (perform_if_unknown) or give up",
    )


def conflict(stored: StoredCall, call: MachineCall, digest: str) -> str | None:
    """Why ``call`` is not the action recorded under its key (names both), or None if it is the same."""
    if stored.digest == digest:
        return None
    return (
        f"key {stored.key} is {stored.machine}.{stored.method} (args digest {stored.digest[:12]}) "
        f"but this request is {call.machine}.{call.method} (args digest {digest[:12]}): the run's replay diverged"
    )


def stale_worker(run_id: str, epoch: int, max_epoch: int) -> str | None:
    """Fencing: a worker of an older generation than one this bench has seen for the run must not act."""
    if epoch >= max_epoch:
        return None
    return f"run {run_id} has a newer worker (epoch {max_epoch}); this request's epoch {epoch} is stale"
