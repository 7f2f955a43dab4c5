"""The worker's side of the process protocol: JSON-lines events out, control lines in.

Events go to a file descriptor of their own (a duplicate of the original stdout), while ``sys.stdout`` and fd 1
are pointed at stderr: a protocol's ``print()``, a chatterbox's tables and C-level writes then land in the
worker's stderr log and can never corrupt the event stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from typing import IO, Any

from praxis_executor.worker.control import RunControl
from praxis_executor.worker.journal import CallRecord
from praxis_executor.worker.outputs import to_json

log = logging.getLogger(__name__)


class EventWriter:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    @classmethod
    def take_stdout(cls) -> EventWriter:
        """Claim the process's stdout for events and send everything else written there to stderr."""
        sys.stdout.flush()
        events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        return cls(events)

    def close(self) -> None:
        self._stream.close()

    def emit(self, event: dict[str, Any]) -> None:
        try:
            line = json.dumps(event, allow_nan=False)
        except (TypeError, ValueError):  # NaN or an odd object slipped in: never lose the event for it
            line = json.dumps(to_json(event), allow_nan=False)
        self._stream.write(line + "\n")
        self._stream.flush()


class EventJournal:
    """Journal entries as ``{"type": "call", ...}`` events."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer

    async def record(self, entry: CallRecord) -> None:
        self.writer.emit({"type": "call", **entry.to_json()})


def apply_control(control: RunControl, line: str) -> None:
    try:
        message = json.loads(line)
        kind = message.get("type")
    except (json.JSONDecodeError, AttributeError):
        log.warning("ignoring a control line that is not a JSON object: %r", line[:200])
        return
    if kind == "cancel":
        control.cancel(str(message.get("reason") or "cancelled"))
    elif kind == "pause":
        control.pause()
    elif kind == "resume":
        control.resume()
    else:
        log.warning("ignoring unknown control %r", kind)


def read_control(control: RunControl, loop: asyncio.AbstractEventLoop, stream: IO[str] | None = None) -> None:
    """Feed control lines from stdin to the loop, on a daemon thread (EOF simply ends the reading)."""
    source = stream if stream is not None else sys.stdin

    def pump() -> None:
        for line in source:
            if line.strip():
                loop.call_soon_threadsafe(apply_control, control, line)

    threading.Thread(target=pump, name="control-reader", daemon=True).start()
