"""Which runs may start when the worker sandbox is incomplete: a pure decision, from the layers the probe found,
the submitter's role and the operator's setting.

A run of someone who is not an admin runs other people's code with less isolation than promised only if the
operator said so (``PRAXIS_EXECUTOR_ALLOW_UNSANDBOXED=1``); an admin's run always goes, with a warning. A run
without a role (submitted before roles were recorded) counts as not an admin's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LAYERS = ("uid", "landlock-fs", "landlock-net", "seccomp", "rlimits")
"""Every layer a worker should have, in the order they are reported."""
ADMIN = "admin"


@dataclass(frozen=True)
class SandboxReport:
    """What the probe found: each layer of :data:`LAYERS` is in exactly one of ``active`` or ``missing``, with a
    detail (what it does here) or the reason it is missing (and what would fix it)."""

    active: Mapping[str, str]
    missing: Mapping[str, str]

    def __post_init__(self) -> None:
        both = set(self.active) & set(self.missing)
        unknown = (set(self.active) | set(self.missing)) - set(LAYERS)
        if both or unknown or len(self.active) + len(self.missing) != len(LAYERS):
            raise ValueError(f"a report names each of {LAYERS} once (both: {both}, unknown: {unknown})")

    @property
    def complete(self) -> bool:
        return not self.missing

    def missing_text(self) -> str:
        return "; ".join(f"{layer} ({why})" for layer, why in self.missing.items())


@dataclass(frozen=True)
class Verdict:
    """``allowed`` with an optional ``warning`` to log, or refused with the ``reason`` the run fails with."""

    allowed: bool
    reason: str = ""
    warning: str = ""


def decide(report: SandboxReport, role: str, allow_unsandboxed: bool) -> Verdict:
    if report.complete:
        return Verdict(True)
    lacking = report.missing_text()
    if role == ADMIN:
        return Verdict(True, warning=f"an admin's run starts without these sandbox layers: {lacking}")
    if allow_unsandboxed:
        return Verdict(
            True,
            warning=f"a {role or 'role-less'} run starts without these sandbox layers, because "
            f"PRAXIS_EXECUTOR_ALLOW_UNSANDBOXED is set: {lacking}",
        )
    return Verdict(
        False,
        reason=f"refused to start: the worker sandbox lacks {lacking}. Runs of a {role or 'role-less'} user need "
        "every layer; an admin may run it, or the operator may set PRAXIS_EXECUTOR_ALLOW_UNSANDBOXED=1",
    )
