"""The gateway's two ways to talk to services: ask a query (request/reply) and send a command (JetStream).

Commands go straight to JetStream with ``Nats-Msg-Id`` = ``message_id``: the gateway owns no domain state, so
there is no transaction to tie an outbox row to, and JetStream's duplicate window makes a retried publish safe.
"""

from __future__ import annotations

from typing import TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext

from praxis_contracts.base import Command, Message, Reply
from praxis_contracts.registry import encode, subject_of
from praxis_servicekit.queries import request

R = TypeVar("R", bound=Reply)


class Bus:
    def __init__(self, nc: Client, js: JetStreamContext, *, query_timeout_s: float = 5.0) -> None:
        self.nc = nc
        self.js = js
        self.query_timeout_s = query_timeout_s

    async def ask(
        self, query: Message, reply_type: type[R], *, timeout: float | None = None, subject: str | None = None
    ) -> R:
        """Request/reply; raises ``QueryFailed`` (the app maps its code to an HTTP status)."""
        return await request(self.nc, query, reply_type, timeout=timeout or self.query_timeout_s, subject=subject)

    async def send(self, command: Command) -> int:
        """Publish a command to its JetStream stream; returns the stream sequence."""
        headers = {"Nats-Msg-Id": str(command.message_id), "Praxis-Type": type(command).__name__}
        if command.correlation_id:
            headers["Praxis-Correlation-Id"] = command.correlation_id
        if command.causation_id:
            headers["Praxis-Causation-Id"] = command.causation_id
        ack = await self.js.publish(subject_of(command), encode(command), headers=headers)
        return int(ack.seq)
