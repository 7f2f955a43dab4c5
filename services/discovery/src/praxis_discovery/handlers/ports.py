"""What discovery's handlers need from the static-analysis side."""

from __future__ import annotations

from typing import Protocol

from praxis_contracts.protocols import Diagnostic, ProtocolDefinition


class Analyzer(Protocol):
    def analyze(self, source: str, filename: str) -> tuple[list[ProtocolDefinition], list[Diagnostic]]:
        """Static analysis of one file against the current PLR catalog (never imports the file)."""
        ...
