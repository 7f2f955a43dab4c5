"""Where ``praxis-dev`` writes: progress and results to stdout, problems to stderr.

Kept in one place so the other modules don't ``print`` (and so tests can capture output with capsys).
"""

from __future__ import annotations

import sys


def say(message: str = "") -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
