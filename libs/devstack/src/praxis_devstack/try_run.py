"""``praxis-dev try FILE``: upload a protocol, start a simulated run, stream its events to the terminal.

The quickest end-to-end check that a local stack works, using only the public gateway API:
``POST /api/v1/protocols`` (multipart ``file``) -> ``{"id"}``; ``POST /api/v1/runs`` -> ``{"id", "status"}``;
``ws://.../api/v1/runs/{id}/events`` until ``RunFinished``. If the socket drops or goes quiet, the
run's status is checked over REST and the socket is re-opened with ``?after=<last seq>`` so no event
is lost or shown twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from praxis_devstack.console import say, warn
from praxis_devstack.errors import DevStackError

TERMINAL = frozenset({"completed", "failed", "cancelled", "rejected"})
FINISHED_TYPE = "RunFinished"
QUIET_CHECK = 5.0  # seconds without an event before asking REST whether the run is over
MAX_RECONNECTS = 5
_NOISE = ("message_id", "correlation_id", "causation_id", "run_id", "type", "seq", "occurred_at")


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["n=3", "name=abc", "ratio=0.5", "flags=[1,2]"]`` -> typed dict (JSON if it parses, else string)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise DevStackError(f"--param expects key=value, got {item!r}", exit_code=2)
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def ws_url(http_url: str, path: str) -> str:
    base = httpx.URL(http_url)
    scheme = "wss" if base.scheme == "https" else "ws"
    return str(base.copy_with(scheme=scheme, path=path, query=None))


def event_status(event: Mapping[str, Any]) -> str | None:
    """The run status an event reports, wherever the gateway puts it (top level or in data/payload)."""
    for container in (event, event.get("event"), event.get("data"), event.get("payload")):
        if isinstance(container, Mapping) and isinstance(container.get("status"), str):
            return str(container["status"])
    return None


def format_event(event: Mapping[str, Any]) -> str:
    """One line: ``seq type summary``: a machine call as ``machine.method (ms)``, a status change as the status,
    anything else as compact JSON without the envelope fields."""
    seq = event.get("seq", "-")
    kind = event.get("type") or "event"
    body = event.get("event")
    if isinstance(body, Mapping):
        if kind == "StepCompleted":
            outcome = f"error: {body.get('error')}" if body.get("error") else "ok"
            return (
                f"{seq!s:>4} {kind:<20} {body.get('machine')}.{body.get('method')} "
                f"({float(body.get('duration_ms') or 0):.1f} ms) {outcome}"
            )
        if kind in ("RunStatusChanged", "RunFinished"):
            reason = body.get("reason") or body.get("error")
            return f"{seq!s:>4} {kind:<20} {body.get('status')}" + (f": {reason}" if reason else "")
        event = body
    rest = {k: v for k, v in event.items() if k not in _NOISE}
    return f"{seq!s:>4} {kind:<20} {json.dumps(rest, separators=(',', ':'), default=str)}"


def _json_body(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "id" not in body:
        raise DevStackError(f"{what}: expected a JSON object with an `id`, got {_error_text(response)}")
    return body


def _error_text(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}: {response.text.strip()[:500]}"


class RunWatcher:
    """Follows one run's event stream until it reaches a terminal status."""

    def __init__(self, client: httpx.AsyncClient, gateway_url: str, run_id: str) -> None:
        self.client = client
        self.gateway_url = gateway_url
        self.run_id = run_id
        self.last_seq: int | None = None
        self.status: str | None = None

    def _handle(self, raw: str | bytes) -> bool:
        """Print one event; True once the run is finished."""
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            say(f"   ? {raw!r}")
            return False
        if not isinstance(event, dict):
            say(f"   ? {event!r}")
            return False
        seq = event.get("seq")
        if isinstance(seq, int):
            if self.last_seq is not None and seq <= self.last_seq:
                return False  # replayed after a reconnect
            self.last_seq = seq
        say(format_event(event))
        status = event_status(event)
        if status is not None:
            self.status = status
        return event.get("type") == FINISHED_TYPE or status in TERMINAL

    async def rest_status(self) -> str | None:
        try:
            response = await self.client.get(f"/api/v1/runs/{self.run_id}")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        return event_status(body) if isinstance(body, dict) else None

    async def follow(self, deadline: float) -> str | None:
        """Stream events; returns the final status (``None`` if the deadline passed first)."""
        reconnects = 0
        while time.monotonic() < deadline:
            path = f"/api/v1/runs/{self.run_id}/events"
            url = ws_url(self.gateway_url, path)
            if self.last_seq is not None:
                url += f"?after={self.last_seq}"
            try:
                async with connect(url, open_timeout=10) as ws:
                    while time.monotonic() < deadline:
                        try:
                            raw = await asyncio.wait_for(ws.recv(), QUIET_CHECK)
                        except TimeoutError:
                            status = await self.rest_status()
                            if status in TERMINAL:
                                self.status = status
                                return status
                            continue
                        if self._handle(raw):
                            return self.status
            except (ConnectionClosed, InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
                status = await self.rest_status()
                if status in TERMINAL:
                    self.status = status
                    return status
                reconnects += 1
                if reconnects > MAX_RECONNECTS:
                    raise DevStackError(f"lost the event stream of run {self.run_id}: {exc}") from None
                warn(f"event stream interrupted ({type(exc).__name__}); reconnecting ...")
                await asyncio.sleep(min(0.5 * reconnects, 2.0))
        return None


def read_protocol(file: Path) -> tuple[str, bytes]:
    """(file name, content), or a clear error; read before the event loop starts (no blocking I/O in it)."""
    try:
        return file.name, file.read_bytes()
    except OSError as exc:
        raise DevStackError(f"cannot read {file}: {exc.strerror}", exit_code=2) from None


async def try_protocol(
    name: str, content: bytes, params: Mapping[str, Any], gateway_url: str, timeout: float = 600.0
) -> int:
    """Upload the protocol, run it simulated with ``params``, print its events; 0 if the run completed."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0) as client:
        try:
            upload = await client.post("/api/v1/protocols", files={"file": (name, content, "text/x-python")})
        except httpx.ConnectError:
            raise DevStackError(
                f"cannot reach the gateway at {gateway_url} - is `make run` running? "
                f"(set PRAXIS_GATEWAY_URL to use another address)"
            ) from None
        if upload.status_code not in (200, 201):
            raise DevStackError(f"uploading {name} failed: {_error_text(upload)}")
        protocol_id = _json_body(upload, "uploading the protocol")["id"]
        say(f"protocol {name} uploaded: {protocol_id}")

        started = await client.post(
            "/api/v1/runs", json={"protocol_id": protocol_id, "parameters": dict(params), "simulate": True}
        )
        if started.status_code not in (200, 201, 202):
            raise DevStackError(f"starting the run failed: {_error_text(started)}")
        run = _json_body(started, "starting the run")
        run_id = str(run["id"])
        say(f"run {run_id} submitted ({run.get('status', '?')}); events:")

        watcher = RunWatcher(client, gateway_url, run_id)
        status = await watcher.follow(deadline)
    if status is None:
        raise DevStackError(f"run {run_id} did not finish within {timeout:.0f}s (last status: {watcher.status})")
    say(f"run {run_id} {status}")
    return 0 if status == "completed" else 1
