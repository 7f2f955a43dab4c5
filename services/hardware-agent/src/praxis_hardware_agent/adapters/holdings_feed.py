"""The agent's live view of which run holds which machine: scheduler and executor events plus reservation lists.

Live events come through **core NATS subscriptions** (JetStream-published events reach core subscribers too),
not a JetStream consumer. The agent has no database, so a durable consumer's position would be state on the
server that no one owns after the bench PC is gone, and an ephemeral consumer (DeliverPolicy.NEW) would only
move the gap, not close it: after a disconnect it may be gone as well. What core NATS can lose (messages while
disconnected, or to a slow consumer) is recovered by a *snapshot*: the scheduler's current reservations
(``ListReservations``), asked for at start-up, after every reconnect, every ``resync_s``, and whenever a call
names a run the agent has not heard of (the worker's first request can beat the ``RunScheduled`` event here).
The subscriptions are made *before* each snapshot is asked for, so nothing slips between the two; the merge
rules are in :mod:`praxis_hardware_agent.domain.holdings`.

While the scheduler cannot be asked, the holdings already known stay as they are (a scheduler restart must not
stop running runs), and a run the agent has never heard of is refused.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Collection

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from praxis_contracts.base import Message, utcnow
from praxis_contracts.executor import RunFinished
from praxis_contracts.registry import UnknownSubject, decode, subject_of
from praxis_contracts.scheduler import (
    LeaseExpired,
    ListReservations,
    ReservationList,
    ReservationReleased,
    RunScheduled,
)
from praxis_hardware_agent.domain.holdings import Holdings
from praxis_servicekit.bus import sync_with_server
from praxis_servicekit.queries import request

log = logging.getLogger(__name__)

HOLDINGS_EVENTS: tuple[type[Message], ...] = (RunScheduled, ReservationReleased, LeaseExpired, RunFinished)


class HoldingsFeed:
    """Keeps :class:`Holdings` current and answers the runtime's :class:`HoldingsCheck`."""

    def __init__(self, nc: Client, bench_id: str, *, query_timeout_s: float = 2.0, resync_s: float = 30.0) -> None:
        self.nc = nc
        self.holdings = Holdings(bench_id)
        self.query_timeout_s = query_timeout_s
        self.resync_s = resync_s
        self._subs: list[Subscription] = []
        self._sync: asyncio.Task[None] | None = None
        self._synced_start = -math.inf  # monotonic start of the newest successful snapshot
        self._failure: str | None = None  # why the latest snapshot failed; None once one succeeds
        self._failure_was_slow = False  # it failed only after waiting (a timeout), not at once (no responders)
        self._reconnects = self._reconnect_count()

    async def start(self) -> None:
        """Subscribe, then take the first snapshot; if the scheduler does not answer, :meth:`maintain` retries."""
        for cls in HOLDINGS_EVENTS:
            self._subs.append(
                await self.nc.subscribe(
                    subject_of(cls), cb=self._on_event, pending_msgs_limit=-1, pending_bytes_limit=-1
                )
            )
        await sync_with_server(self.nc)  # the server has our subscriptions before the scheduler is asked
        await self.maintain()

    async def stop(self) -> None:
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection is closing anyway
                log.debug("unsubscribe failed", exc_info=True)
        self._subs.clear()

    async def maintain(self) -> None:
        """Periodic: a snapshot when none succeeded yet, the last one failed, after a reconnect, or when the last
        is ``resync_s`` old."""
        reconnects = self._reconnect_count()
        due = time.monotonic() - self._synced_start >= self.resync_s or self._failure is not None
        if not due and reconnects == self._reconnects:
            return
        try:
            await self.sync()
        except Exception as exc:  # known holdings stay; the next tick asks again
            log.warning("bench %s: could not list the scheduler's reservations: %s", self.holdings.bench_id, exc)
            return
        self._reconnects = reconnects

    async def sync(self) -> None:
        """Make sure a snapshot that *started* now or later has been applied (concurrent callers share one)."""
        await self._refresh(after=time.monotonic())

    async def refusal(self, run_id: str, machines: Collection[str]) -> str | None:
        """Why ``run_id`` may not act on ``machines`` (None: it may). A run the agent never heard of is looked up
        once (a snapshot asked for after this request arrived) before it is refused.

        The bench's calls are answered one at a time, so while the scheduler does not answer in time (its latest
        snapshot timed out) an unknown run is refused at once instead of holding up the calls behind it for a
        query timeout each; :meth:`maintain` keeps asking in the background. A snapshot that failed at once
        (no scheduler subscribed yet, as just after a start) costs nothing to try again, so it is.
        """
        verdict = self.holdings.verdict(run_id, machines)
        if verdict.unknown:
            if self._failure is not None and self._failure_was_slow:
                return f"run {run_id} is unknown to this agent and the scheduler could not be asked: {self._failure}"
            try:
                await self._refresh(after=time.monotonic())
            except Exception as exc:  # unreachable, timed out, or an answer that does not parse
                return f"run {run_id} is unknown to this agent and the scheduler could not be asked: {exc}"
            verdict = self.holdings.verdict(run_id, machines)
            if verdict.unknown:
                self.holdings.mark_absent(run_id, utcnow())
                verdict = self.holdings.verdict(run_id, machines)
        return None if verdict.held else verdict.reason

    def status(self) -> dict[str, str]:
        """For the health answer: when the holdings were last confirmed by the scheduler."""
        synced = self.holdings.synced_at
        return {
            "holdings_synced_at": synced.isoformat(timespec="seconds") if synced else "never",
            **({"holdings_sync_error": self._failure} if self._failure else {}),
            "holding_runs": str(self.holdings.run_count()),
        }

    # ------------------------------------------------------------------------------------------ internals

    async def _refresh(self, after: float) -> None:
        while self._synced_start < after:
            if self._sync is None or self._sync.done():
                self._sync = asyncio.create_task(self._snapshot(), name="holdings-snapshot")
                self._sync.add_done_callback(_retrieve)  # a failure nobody waits for any more is not an error
            await asyncio.shield(self._sync)

    async def _snapshot(self) -> None:
        started = time.monotonic()
        mark = self.holdings.begin_sync()
        try:
            reply = await request(self.nc, ListReservations(), ReservationList, timeout=self.query_timeout_s)
        except Exception as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            self._failure_was_slow = time.monotonic() - started >= self.query_timeout_s / 2
            raise
        self.holdings.apply_snapshot(reply.reservations, mark, utcnow())
        self._synced_start = max(self._synced_start, started)
        self._failure = None
        self._failure_was_slow = False
        log.debug("bench %s: holdings synced (%d runs)", self.holdings.bench_id, self.holdings.run_count())

    async def _on_event(self, msg: Msg) -> None:
        try:
            self.holdings.apply(decode(msg.subject, msg.data))
        except (UnknownSubject, ValidationError, TypeError) as exc:
            log.warning("bench %s: ignored a malformed %s: %s", self.holdings.bench_id, msg.subject, exc)

    def _reconnect_count(self) -> int:
        return int(self.nc.stats.get("reconnects", 0))


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
