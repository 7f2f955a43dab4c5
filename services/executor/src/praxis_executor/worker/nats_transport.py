"""The worker's bench transport over core NATS request/reply (subjects from ``praxis_contracts.hardware``).

A machine call that times out is sent again *unchanged* — same run id and sequence, so the same idempotency key:
if the agent performed the first attempt it answers from its store (``replayed=True``), if the first attempt is
still running it waits for it, and only if the agent never got it does the device act. No responders (the agent
is restarting) is retried after a short pause as well. After ``attempts`` the call's outcome is unknown and the
error says so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from praxis_contracts.base import ErrorReply, Message, Reply
from praxis_contracts.hardware import (
    Ack,
    BenchDescription,
    DescribeBench,
    EndRun,
    LoadRunDeck,
    MachineCall,
    MachineCallResult,
)
from praxis_contracts.registry import encode, subject_of

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Reply)
ERROR_HEADER = "Praxis-Error"  # as praxis_servicekit.queries marks an ErrorReply


class BenchUnreachable(TimeoutError):
    """No answer after every attempt: the agent may or may not have performed the call."""


class BenchRefused(RuntimeError):
    """The agent answered with an ErrorReply (invalid payload, internal error)."""


class NatsBenchTransport:
    def __init__(
        self, nc: Client, *, timeout_s: float = 60.0, attempts: int = 3, retry_delay_s: float = 0.5, owns: bool = False
    ) -> None:
        self.nc, self.timeout_s, self.attempts, self.retry_delay_s = nc, timeout_s, max(1, attempts), retry_delay_s
        self._owns = owns

    @classmethod
    async def connect(cls, url: str, **kwargs: float | int) -> NatsBenchTransport:
        nc = await nats.connect(url, name="praxis-executor-worker", max_reconnect_attempts=-1)
        return cls(nc, owns=True, **kwargs)  # type: ignore[arg-type]

    async def close(self) -> None:
        if self._owns and not self.nc.is_closed:
            await self.nc.drain()

    async def call(self, call: MachineCall) -> MachineCallResult:
        return await self._request(call, MachineCallResult, timeout_s=self.timeout_s)

    async def describe(self, bench_id: str) -> BenchDescription:
        return await self._request(
            DescribeBench(bench_id=bench_id), BenchDescription, timeout_s=min(self.timeout_s, 30)
        )

    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack:
        return await self._request(cmd, Ack, timeout_s=self.timeout_s)

    async def end_run(self, cmd: EndRun) -> Ack:
        return await self._request(cmd, Ack, timeout_s=min(self.timeout_s, 10))

    async def _request(self, msg: Message, reply_type: type[R], *, timeout_s: float) -> R:
        subject, payload = subject_of(msg), encode(msg)
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                answer = await self.nc.request(subject, payload, timeout=timeout_s)
            except (NatsTimeoutError, NoRespondersError) as exc:
                last = exc
                log.warning("%s: attempt %d/%d got no answer (%s)", subject, attempt, self.attempts, type(exc).__name__)
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_delay_s)
                continue
            return _parse(answer, reply_type)
        raise BenchUnreachable(f"no answer on {subject} after {self.attempts} attempt(s): {type(last).__name__}")


def _parse(answer: Msg, reply_type: type[R]) -> R:
    if (answer.headers or {}).get(ERROR_HEADER) == "1":
        error = ErrorReply.model_validate_json(answer.data)
        raise BenchRefused(f"{error.code}: {error.detail}")
    return reply_type.model_validate_json(answer.data)
