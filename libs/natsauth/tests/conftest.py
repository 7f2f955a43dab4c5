"""Connections to the ``secured_nats`` server as one identity, recording what the server refuses.

A refused publish or subscription is not an exception in a NATS client: the server drops it and sends
``-ERR 'Permissions Violation for Publish to "<subject>"'``, which reaches the client's error callback. A
:class:`Peer` keeps those errors, so a test waits for the refusal of exactly the subject it tried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client, RawCredentials

from praxis_contracts.permissions import inbox_prefix
from praxis_natsauth.creds import parse_creds
from praxis_testkit.plugin import SecuredNats
from praxis_testkit.waiting import wait_for


@dataclass
class Peer:
    nc: Client
    errors: list[str] = field(default_factory=list)

    async def refused(self, action: str, subject: str) -> None:
        """Wait until the server refused ``action`` (``publish`` or ``subscription``) on ``subject``."""
        wanted = f'permissions violation for {action} to "{subject}"'.lower()
        await wait_for(lambda: any(wanted in e.lower() for e in self.errors), message=f"{action} {subject} refused")

    def refusals(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]


Connect = Callable[..., Awaitable[Peer]]


@pytest.fixture
async def connect_as(secured_nats: SecuredNats) -> AsyncIterator[Connect]:
    """``await connect_as(creds_text_or_path)``: a peer connected with those creds and their identity's inbox."""
    peers: list[Peer] = []

    async def connect(creds: Path | str, *, inbox: str | None = None) -> Peer:
        text = creds.read_text() if isinstance(creds, Path) else creds  # noqa: ASYNC240 - a small local file
        peer = Peer(nc=Client())

        async def on_error(exc: Exception) -> None:
            peer.errors.append(str(exc))

        prefix = inbox or inbox_prefix(parse_creds(text).name)
        await peer.nc.connect(
            secured_nats.url,
            user_credentials=RawCredentials(text),
            inbox_prefix=prefix,
            error_cb=on_error,
            allow_reconnect=False,
        )
        peers.append(peer)
        return peer

    yield connect
    for peer in peers:
        if not peer.nc.is_closed:
            await peer.nc.close()


@pytest.fixture
async def admin(secured_nats: SecuredNats) -> AsyncIterator[Client]:
    """A client allowed everything: it watches subjects and plays the other side of a conversation."""
    nc = await nats.connect(secured_nats.url, user_credentials=str(secured_nats.admin_creds))
    yield nc
    await nc.close()
