"""uvicorn, stopped by SIGTERM/SIGINT like every other Praxis service: graceful shutdown, then exit 0.

uvicorn re-raises the captured signal once it has shut down, so the process would end "killed by SIGTERM";
supervisors (``make run``, systemd, Kubernetes) should see a clean exit after a clean stop.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import uvicorn
from uvicorn import Config

__all__ = ["Config", "Server"]

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
