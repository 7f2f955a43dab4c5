"""NATS connection and idempotent JetStream setup from the contracts' stream specs."""

from __future__ import annotations

import dataclasses
import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from praxis_contracts.streams import ALL_STREAMS, StreamSpec

log = logging.getLogger(__name__)


async def connect(url: str, name: str) -> Client:
    """Connect with unlimited reconnects: a NATS restart must not kill a service."""

    async def _error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def _disconnected() -> None:
        log.warning("nats disconnected")

    async def _reconnected() -> None:
        log.info("nats reconnected")

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=_error,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        pending_size=64 * 1024 * 1024,
    )


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

    ``replicas`` (``PRAXIS_NATS_REPLICAS``) overrides every spec's replica count: 3 on a NATS cluster, so a
    manual ``nats stream edit --replicas 3`` is not undone by the next service start.
    """
    for spec in specs:
        if replicas is not None:
            spec = dataclasses.replace(spec, replicas=replicas)
        config = _config(spec)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
                continue
            except BadRequestError:  # another replica created it between our two calls
                pass
        try:
            await js.update_stream(config)
        except BadRequestError as exc:  # e.g. retention cannot change on an existing stream
            log.warning("stream %s not updated: %s", spec.name, exc)
