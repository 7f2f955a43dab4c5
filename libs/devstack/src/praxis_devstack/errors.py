"""The one exception type ``praxis-dev`` turns into a message and an exit code (never a traceback)."""

from __future__ import annotations


class DevStackError(Exception):
    """A problem the user can act on; ``str(exc)`` is the whole message.

    Exit codes: 2 = configuration/environment (busy port, bad env var, missing file), 1 = something
    we started failed.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
