"""Fail fast, and readably, when a port the stack needs is taken.

Checked before anything starts: a half-started stack that then dies on a bind error is slower to
diagnose than one line that names the port and the variable to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from praxis_devstack.errors import DevStackError
from praxis_testkit.servers import port_in_use


@dataclass(frozen=True)
class PortNeed:
    port: int
    what: str
    env_var: str


def busy_port_message(need: PortNeed) -> str:
    return (
        f"port {need.port} ({need.what}) is already in use on 127.0.0.1 - stop whatever uses it "
        f"or set {need.env_var} to a free port"
    )


def check_ports_free(needs: Iterable[PortNeed]) -> None:
    """Raise :class:`DevStackError` (exit 2) for the first busy port."""
    for need in needs:
        if port_in_use(need.port):
            raise DevStackError(busy_port_message(need), exit_code=2)
