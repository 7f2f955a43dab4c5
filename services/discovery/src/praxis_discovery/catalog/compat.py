"""Startup compatibility report: which optional PLR extras are installed here and which backends cannot run.

Probing uses ``importlib.util.find_spec`` on top-level modules, which locates them without executing them.
"""

from __future__ import annotations

import importlib.util

from pydantic import BaseModel, Field

from praxis_discovery.catalog.model import Catalog
from praxis_discovery.catalog.requirements import EXTRA_PROBES


class ExtraStatus(BaseModel):
    extra: str
    module: str
    installed: bool


class UnavailableBackend(BaseModel):
    fqn: str
    missing: list[str] = Field(description="optional modules that are not importable")
    extras: list[str] = Field(description="pylabrobot extras that would install them")


class CompatibilityReport(BaseModel):
    plr_version: str
    extras: list[ExtraStatus]
    unavailable_backends: list[UnavailableBackend]
    runnable_backends: int


def module_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def compatibility_report(catalog: Catalog) -> CompatibilityReport:
    availability: dict[str, bool] = {}

    def available(module: str) -> bool:
        if module not in availability:
            availability[module] = module_available(module)
        return availability[module]

    extras = [ExtraStatus(extra=e, module=m, installed=available(m)) for e, m in sorted(EXTRA_PROBES.items())]
    unavailable = []
    runnable = 0
    for backend in catalog.backends:
        if backend.abstract:
            continue
        missing = [r for r in backend.requires if not available(r.module)]
        if not missing:
            runnable += 1
            continue
        unavailable.append(
            UnavailableBackend(
                fqn=backend.fqn,
                missing=[r.module for r in missing],
                extras=sorted({r.extra for r in missing if r.extra}),
            )
        )
    return CompatibilityReport(
        plr_version=catalog.plr_version,
        extras=extras,
        unavailable_backends=unavailable,
        runnable_backends=runnable,
    )
