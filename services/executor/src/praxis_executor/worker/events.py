"""The worker's side of the process protocol: typed reports out on their own pipe, typed control lines in.

Reports go to a file descriptor of their own (a duplicate of the original stdout), while ``sys.stdout`` and fd 1
are pointed at stderr: a protocol's ``print()``, a chatterbox's tables and C-level writes then land in the
worker's stderr log and cannot corrupt the report stream by accident.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from typing import IO

from pydantic import BaseModel, ValidationError

from praxis_executor.worker.control import RunControl
from praxis_executor.worker.journal import CallRecord
from praxis_executor.worker.protocol import (
    CallReport,
    CancelControl,
    CredentialsControl,
    PauseControl,
    ResumeControl,
    SuspendControl,
    parse_control,
)

log = logging.getLogger(__name__)


class EventWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    @classmethod
    def take_stdout(cls) -> EventWriter:
        """Claim the process's stdout for reports and send everything else written there to stderr."""
        sys.stdout.flush()
        events = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        return cls(events)

    def close(self) -> None:
        self._stream.close()

    def emit(self, report: BaseModel) -> None:
        """One report, one line, written whole (unbuffered): a worker killed right after still delivered it."""
        self._stream.write(report.model_dump_json().encode() + b"\n")


class EventJournal:
    """Journal entries as ``call`` reports."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer

    async def record(self, entry: CallRecord) -> None:
        self.writer.emit(CallReport(**entry.to_report()))


def apply_control(control: RunControl, line: str) -> None:
    try:
        message = parse_control(line)
    except ValidationError as exc:
        log.warning("ignoring a control line that is not a control: %r (%s)", line[:200], exc.errors()[0]["msg"])
        return
    if isinstance(message, CancelControl):
        control.cancel(message.reason)
    elif isinstance(message, PauseControl):
        control.pause()
    elif isinstance(message, ResumeControl):
        control.resume()
    elif isinstance(message, SuspendControl):
        control.suspend()
    elif isinstance(message, CredentialsControl):
        control.credentials(message.creds)


def read_control(control: RunControl, loop: asyncio.AbstractEventLoop, stream: IO[str] | None = None) -> None:
    """Feed control lines from stdin to the loop, on a daemon thread. End of input means the executor is gone:
    the run is suspended at its next checkpoint (another executor will take it over)."""
    source = stream if stream is not None else sys.stdin

    def pump() -> None:
        for line in source:
            if line.strip():
                loop.call_soon_threadsafe(apply_control, control, line)
        loop.call_soon_threadsafe(control.suspend)

    threading.Thread(target=pump, name="control-reader", daemon=True).start()
