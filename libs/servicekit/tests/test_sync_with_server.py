"""``sync_with_server``: once it returns, another client's request finds the new subscription.

``Client.flush()`` alone lost that race about once in 150 tries (nats-py writes the PING ahead of a queued SUB),
so this asks 300 times, each time on a fresh subscription."""

from __future__ import annotations

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from praxis_servicekit.bus import sync_with_server

pytestmark = pytest.mark.integration


async def test_a_flushed_subscription_answers_the_very_next_request(nats_url: str, nc: Client, unique_id: str) -> None:
    responder = await nats.connect(nats_url)
    try:

        async def answer(msg: Msg) -> None:
            await msg.respond(b"here")

        for i in range(300):
            subject = f"flush.{unique_id}.{i}"
            sub = await responder.subscribe(subject, cb=answer)
            await sync_with_server(responder)

            reply = await nc.request(subject, b"?", timeout=5)  # NoRespondersError if the SUB was not there yet

            assert reply.data == b"here"
            await sub.unsubscribe()
    finally:
        await responder.close()
