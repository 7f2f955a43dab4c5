"""Simulated frontends (one "Simulated <X>" per generic frontend a concrete simulated backend serves) and the
rule a machine record must satisfy: its backend must serve its frontend.

Grouping is per generic frontend rather than per category because two categories hold two frontends with
different backend types (centrifuge: Centrifuge/Loader, pumps: Pump/PumpArray): a ``LoaderChatterboxBackend``
cannot drive a ``Centrifuge``, so one "Simulated Centrifuge" listing both would offer a choice that is refused.
Every other category has exactly one entry.
"""

from __future__ import annotations

import re

from praxis_discovery.catalog.model import BackendEntry, Catalog, FrontendEntry, SimulatedFrontend


def humanize(name: str) -> str:
    """``LiquidHandler`` -> ``Liquid Handler``; ``ExperimentalSCARA`` -> ``Experimental SCARA``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)


def simulated_frontends(frontends: list[FrontendEntry], backends: list[BackendEntry]) -> list[SimulatedFrontend]:
    out = []
    for frontend in sorted(frontends, key=lambda f: (f.category, f.name)):
        if not frontend.generic:
            continue
        served = [
            b for b in backends if b.simulated and not b.abstract and not b.deprecated and frontend.fqn in b.frontends
        ]
        if not served:
            continue
        served.sort(key=lambda b: (b.category != frontend.category, len(b.frontends), b.name))
        out.append(
            SimulatedFrontend(
                name=f"Simulated {humanize(frontend.name)}",
                category=frontend.category,
                frontend=frontend.fqn,
                backends=[b.fqn for b in served],
            )
        )
    return out


def validate_machine(frontend_fqn: str, backend_fqn: str, catalog: Catalog) -> str | None:
    """None when ``backend_fqn`` can drive ``frontend_fqn``; otherwise the reason it is refused."""
    frontend = catalog.frontend(frontend_fqn)
    if frontend is None:
        return f"unknown frontend {frontend_fqn!r} (not a Machine subclass in PyLabRobot {catalog.plr_version})"
    backend = catalog.backend(backend_fqn)
    if backend is None:
        return f"unknown backend {backend_fqn!r} (not a MachineBackend subclass in PyLabRobot {catalog.plr_version})"
    if backend.abstract:
        return f"{backend.name} is abstract and cannot be instantiated"
    if backend.deprecated:
        hint = f"; use {backend.replacement}" if backend.replacement else ""
        return f"{backend.name} is a deprecated alias{hint}"
    if frontend_fqn not in backend.frontends:
        accepted = frontend.accepts_backend or "a backend"
        return f"{backend.name} does not serve {frontend.name}: {frontend.name} accepts {accepted}"
    return None
