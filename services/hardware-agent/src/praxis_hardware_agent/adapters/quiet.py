"""Keep chatterbox ``print()`` output out of the agent's stdout: it goes to the ``pylabrobot`` logger at DEBUG.

``sys.stdout`` is one per process, so while any backend call runs, whatever else the process prints lands in the
log too (the agent itself logs rather than prints, so nothing of value is lost). Calls on different machines
overlap; nested ``redirect_stdout`` contexts would then restore each other's writers out of order, so the
redirection is counted: the first call in installs it, the last one out restores the real stdout.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

PLR_LOGGER = logging.getLogger("pylabrobot")


class _LineLogger(io.TextIOBase):
    def __init__(self, logger: logging.Logger, level: int) -> None:
        self._logger, self._level, self._buffer = logger, level, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self._logger.log(self._level, "%s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self._logger.log(self._level, "%s", self._buffer.rstrip())
        self._buffer = ""


class _Redirection:
    def __init__(self) -> None:
        self.depth = 0
        self.saved: TextIO | None = None
        self.writer: _LineLogger | None = None

    @contextlib.contextmanager
    def __call__(self, logger: logging.Logger = PLR_LOGGER, level: int = logging.DEBUG) -> Iterator[None]:
        if self.depth == 0:
            self.saved, self.writer = sys.stdout, _LineLogger(logger, level)
            sys.stdout = self.writer
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                assert self.writer is not None and self.saved is not None
                self.writer.flush()
                sys.stdout, self.saved, self.writer = self.saved, None, None


stdout_to_log = _Redirection()
"""``with stdout_to_log(): ...`` - prints inside go to the ``pylabrobot`` logger at DEBUG (re-entrant)."""
