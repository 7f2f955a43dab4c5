"""NATS connection (with this identity's credentials, when it has some) and idempotent JetStream setup from the
contracts' stream specs."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from praxis_contracts.permissions import inbox_prefix
from praxis_contracts.streams import ALL_STREAMS, StreamSpec
from praxis_natsauth.creds import InvalidCredentials, read_creds

log = logging.getLogger(__name__)
T = TypeVar("T")

_REFUSALS = ("authorization violation", "authentication expired", "authentication revoked")


class NatsCredentialsError(RuntimeError):
    """The credentials file is unusable, or the NATS server refused us: one line that says which and why."""


class StreamSetupError(RuntimeError):
    """A Praxis stream is missing or differs and these credentials could not create or update it."""


def refused(exc: BaseException) -> bool:
    """True for the server's "who are you" refusals (bad, expired or revoked credentials, or none given)."""
    return any(marker in str(exc).lower() for marker in _REFUSALS)


async def sync_with_server(nc: Client) -> None:
    """Return once the server has processed everything this client sent so far: every subscription (so a request
    from anyone now finds it) and every publish.

    ``Client.flush()`` alone does not promise that with nats-py 2.16: it writes its PING straight to the socket,
    while a new SUB waits in the client's buffer for the flusher task, so the server can answer the PING before it
    has seen the SUB (a service that called itself ready was then met with "no responders", about once in 150
    starts). Handing the buffer to the flusher first and waiting for it puts the SUBs on the wire before the PING.
    """
    push = getattr(nc, "_flush_pending", None)
    if push is not None:
        await push(force_flush=True)
    await nc.flush()


async def connect(url: str, name: str, *, creds: Path | None = None) -> Client:
    """Connect with unlimited reconnects: a NATS restart must not kill a service.

    With ``creds`` the client authenticates as the identity in that file and takes replies on that identity's
    own inbox prefix (the only one it may subscribe to). A refusal is final, not retried: it raises
    :class:`NatsCredentialsError` ("NATS refused the credentials of scheduler (...)"), where the client would
    otherwise try again forever.
    """
    identity, options = _credentials(creds)
    nc = Client()
    refusal: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    attempt: asyncio.Future[None] = asyncio.ensure_future(
        nc.connect(url, **_options(name, refusal, identity), **options)
    )
    waiters: list[asyncio.Future[Any]] = [attempt, refusal]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # cancelled: the attempt must not go on connecting in the background
        attempt.cancel()
        raise
    if attempt.done():
        refusal.cancel()
        attempt.result()  # raises what connecting raised
        return nc
    attempt.cancel()
    await asyncio.gather(attempt, return_exceptions=True)
    await nc.close()
    raise NatsCredentialsError(_refused_line(identity, creds, refusal.result()))


def _credentials(creds: Path | None) -> tuple[str | None, dict[str, Any]]:
    """The identity in ``creds`` and the connect options that use it; a clear error for an unusable file."""
    if creds is None:
        return None, {}
    try:
        identity = read_creds(creds).name
    except InvalidCredentials as exc:
        raise NatsCredentialsError(str(exc)) from None
    if not identity:
        raise NatsCredentialsError(f"the NATS credentials in {creds} name no identity (the JWT has no name)")
    return identity, {"user_credentials": str(creds), "inbox_prefix": inbox_prefix(identity)}


def _refused_line(identity: str | None, creds: Path | None, reason: str) -> str:
    if identity is None:
        return f"NATS refused the connection without credentials ({reason}): set PRAXIS_NATS_CREDS or this service's"
    return f"NATS refused the credentials of {identity} ({creds}): {reason}"


def _options(name: str, refusal: asyncio.Future[str], identity: str | None) -> dict[str, Any]:
    reported = False

    async def _error(exc: Exception) -> None:
        nonlocal reported
        if refused(exc):
            if not refusal.done():
                refusal.set_result(str(exc).removeprefix("nats: ").strip("'"))
            elif not reported:  # refused again on a reconnect (expired or revoked): say it once, not per retry
                log.error("NATS refused the credentials of %s: %s", identity or "this client", exc)
            reported = True
            return
        log.warning("nats error: %s", exc)

    async def _disconnected() -> None:
        log.warning("nats disconnected")

    async def _reconnected() -> None:
        nonlocal reported
        reported = False
        log.info("nats reconnected")

    return {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "error_cb": _error,
        "disconnected_cb": _disconnected,
        "reconnected_cb": _reconnected,
        "pending_size": 64 * 1024 * 1024,
    }


def _config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.WORK_QUEUE if spec.retention == "workqueue" else RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=spec.max_age_s,
        duplicate_window=spec.duplicate_window_s,
        max_msgs=spec.max_msgs,
        num_replicas=spec.replicas,
    )


async def ensure_streams(
    js: JetStreamContext, specs: tuple[StreamSpec, ...] = ALL_STREAMS, *, replicas: int | None = None
) -> None:
    """Create each stream, or update it to the spec; safe to run from every replica at every boot.

    A stream that already matches its spec is only looked up, so credentials that may read stream info but not
    manage streams (an agent's) pass once the central services have set the streams up.
    ``replicas`` (``PRAXIS_NATS_REPLICAS``) overrides every spec's replica count: 3 on a NATS cluster, so a
    manual ``nats stream edit --replicas 3`` is not undone by the next service start.
    """
    for spec in specs:
        if replicas is not None:
            spec = dataclasses.replace(spec, replicas=replicas)
        config = _config(spec)
        try:
            info = await _answer(js.stream_info(spec.name), "look up", spec)
        except NotFoundError:
            try:
                await _answer(js.add_stream(config), "create", spec)
                continue
            except BadRequestError:  # another replica created it between our two calls
                pass
        else:
            if _matches(info.config, config):
                continue
        try:
            await _answer(js.update_stream(config), "update", spec)
        except BadRequestError as exc:  # e.g. retention cannot change on an existing stream
            log.warning("stream %s not updated: %s", spec.name, exc)


async def wait_for_streams(
    js: JetStreamContext, specs: tuple[StreamSpec, ...], stopping: asyncio.Event, *, log_every_s: float = 10.0
) -> None:
    """Look each stream up until it exists (another service creates it); never create or change one.

    For an identity that may only look streams up: it starts whenever it starts, and serves once the platform's
    streams are there. Returns early when ``stopping`` is set.
    """
    delay, last_log = 0.2, 0.0
    for spec in specs:
        while not stopping.is_set():
            try:
                await _answer(js.stream_info(spec.name), "look up", spec)
                break
            except NotFoundError:
                now = time.monotonic()
                if now - last_log >= log_every_s:
                    log.warning("waiting for stream %s (a Praxis service creates it)", spec.name)
                    last_log = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            delay = min(delay * 2, 2.0)


async def _answer(call: Awaitable[T], verb: str, spec: StreamSpec) -> T:
    """Await a JetStream API call on ``spec``'s stream. A request NATS denies gets no answer at all, only an
    error on the connection: that timeout becomes one clear line."""
    try:
        return await call
    except NatsTimeoutError as exc:
        raise StreamSetupError(
            f"JetStream did not answer the {verb} of stream {spec.name}: these NATS credentials may not {verb} "
            "it (an agent may only look streams up, and only once a Praxis service has created them), or "
            "JetStream is unavailable"
        ) from exc


def _matches(current: StreamConfig, wanted: StreamConfig) -> bool:
    """Whether the server's config already is the spec (the fields the spec sets; durations to the microsecond)."""

    def same(a: float | None, b: float | None) -> bool:
        return math.isclose(a or 0.0, b or 0.0, abs_tol=1e-6)

    return (
        sorted(current.subjects or []) == sorted(wanted.subjects or [])
        and current.retention == wanted.retention
        and current.storage == wanted.storage
        and same(current.max_age, wanted.max_age)
        and same(current.duplicate_window, wanted.duplicate_window)
        and (current.max_msgs or -1) == (wanted.max_msgs or -1)
        and (current.num_replicas or 1) == (wanted.num_replicas or 1)
    )
