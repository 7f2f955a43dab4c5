"""The worker's bench transport over core NATS request/reply (subjects from ``praxis_contracts.hardware``).

A request that gets no answer is sent again *unchanged* — same run id, sequence and epoch, so the same
idempotency key — for as long as the bench may stay silent (``unreachable_timeout_s``, per bench when its
description says so): an agent that restarts, or a NATS server that restarts, costs the run a pause, not its
outcome. Whatever happened to the first attempt, the agent answers the repeat from its record, joins the attempt
still running, or performs the call if nobody did. A bench that is alive but busy with a long call says
``InProgress``; that resets the silence clock. Only after the bench stayed silent for the whole timeout does the
call fail with :class:`BenchUnreachable` (its outcome unknown): the run then parks for an operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import nats
from nats.aio.client import Client, RawCredentials
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError, NoRespondersError

from praxis_contracts.base import ErrorReply, Message, Reply
from praxis_contracts.hardware import (
    Ack,
    BenchDescription,
    CallRefusal,
    DescribeBench,
    EndRun,
    LoadRunDeck,
    MachineCall,
    MachineCallResult,
)
from praxis_contracts.registry import encode, subject_of
from praxis_executor.worker.proxy import BenchUnreachable

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Reply)
ERROR_HEADER = "Praxis-Error"  # as praxis_servicekit.queries marks an ErrorReply
MAX_BACKOFF_S = 2.0


class BenchRefused(RuntimeError):
    """The agent answered with an ErrorReply (invalid payload, internal error)."""


class NatsBenchTransport:
    def __init__(
        self,
        nc: Client,
        *,
        attempt_timeout_s: float = 5.0,
        unreachable_timeout_s: float = 120.0,
        per_bench: Mapping[str, float] | None = None,
        owns: bool = False,
    ) -> None:
        self.nc = nc
        self.attempt_timeout_s = attempt_timeout_s
        self.unreachable_timeout_s = unreachable_timeout_s
        self.per_bench = dict(per_bench or {})
        self._owns = owns
        self._reconnect: tuple[str, str, str | None] | None = None

    @classmethod
    async def connect(
        cls, url: str, name: str, *, creds: str | None = None, inbox_prefix: str | None = None, **kwargs: object
    ) -> NatsBenchTransport:
        """``creds``: this worker's own credentials (creds file text); it may then read only ``inbox_prefix``."""
        nc = await _open(url, name, creds, inbox_prefix)
        transport = cls(nc, owns=True, **kwargs)  # type: ignore[arg-type]
        transport._reconnect = (url, name, inbox_prefix)
        return transport

    async def rotate(self, creds: str) -> None:
        """Connect again with fresh credentials before the current ones expire (the server then closes the old
        connection for good); a request in flight on the old connection finishes there."""
        if self._reconnect is None:
            return
        url, name, inbox_prefix = self._reconnect
        fresh = await _open(url, name, creds, inbox_prefix)
        old, self.nc = self.nc, fresh
        with contextlib.suppress(Exception):
            await old.drain()

    async def close(self) -> None:
        if self._owns and not self.nc.is_closed:
            await self.nc.drain()

    async def call(self, call: MachineCall) -> MachineCallResult:
        return await self._persist(call, MachineCallResult, call.bench_id)

    async def describe(self, bench_id: str) -> BenchDescription:
        return await self._persist(DescribeBench(bench_id=bench_id), BenchDescription, bench_id)

    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack:
        return await self._persist(cmd, Ack, cmd.bench_id)

    async def end_run(self, cmd: EndRun) -> Ack:
        """Best effort, one attempt: the agent forgets old run decks on its own anyway."""
        answer = await self.nc.request(subject_of(cmd), encode(cmd), timeout=self.attempt_timeout_s)
        return _parse(answer, Ack)

    async def _persist(self, msg: Message, reply_type: type[R], bench_id: str) -> R:
        subject, payload = subject_of(msg), encode(msg)
        silence = self.per_bench.get(bench_id, self.unreachable_timeout_s)
        deadline = time.monotonic() + silence
        backoff = 0.05
        while True:
            try:
                answer = await self.nc.request(subject, payload, timeout=self.attempt_timeout_s)
            except MaxPayloadError:
                raise
            except (NatsError, TimeoutError) as exc:  # no responders, timeouts, a reconnecting connection
                if time.monotonic() >= deadline:
                    raise BenchUnreachable(f"no answer from bench {bench_id} for {silence:.0f} s") from exc
                if isinstance(exc, NoRespondersError) or not self.nc.is_connected:
                    log.info("bench %s not answering on %s (%s); retrying", bench_id, subject, type(exc).__name__)
                    await asyncio.sleep(backoff)  # nobody listens yet: do not spin while the agent restarts
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            reply = _parse(answer, reply_type)
            if isinstance(reply, MachineCallResult) and reply.error_type == CallRefusal.IN_PROGRESS:
                deadline = time.monotonic() + silence  # alive and busy with the first attempt: keep waiting
                continue
            return reply


async def _open(url: str, name: str, creds: str | None, inbox_prefix: str | None) -> Client:
    options: dict[str, Any] = {}
    if creds is not None:
        options["user_credentials"] = RawCredentials(creds)
    if inbox_prefix is not None:
        options["inbox_prefix"] = inbox_prefix
    return await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.25, **options)


def _parse(answer: Msg, reply_type: type[R]) -> R:
    if (answer.headers or {}).get(ERROR_HEADER) == "1":
        error = ErrorReply.model_validate_json(answer.data)
        raise BenchRefused(f"{error.code}: {error.detail}")
    return reply_type.model_validate_json(answer.data)
