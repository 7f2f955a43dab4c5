"""The result of analysing one protocol source file."""

from __future__ import annotations

from pydantic import BaseModel, Field

from praxis_contracts.protocols import Diagnostic, ProtocolDefinition


class Analysis(BaseModel):
    protocols: list[ProtocolDefinition] = Field(default_factory=list)
    diagnostics: list[Diagnostic] = Field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)
