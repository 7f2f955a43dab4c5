"""Does an asset fit a requirement? Type, simulation and capability rules, each with a sentence saying why not."""

from __future__ import annotations

import re
from dataclasses import dataclass

from praxis_contracts.protocols import AssetRequirement
from praxis_scheduler.domain.inventory import Asset


@dataclass(frozen=True)
class RunRequest:
    """What resolution needs to know about a run."""

    run_id: str
    requirements: tuple[AssetRequirement, ...]
    pins: dict[str, str]
    simulate: bool = True
    allow_real_hardware: bool = False


def label(req: AssetRequirement) -> str:
    """'liquid handler with 96_head' from ``...LiquidHandler`` + capabilities: how a scientist says it."""
    short = req.plr_type.rsplit(".", 1)[-1] if req.plr_type else (req.category or req.kind).replace("_", " ")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", short).lower()
    caps = required_capabilities(req)
    return f"{words} with {', '.join(sorted(caps))}" if caps else words


def required_capabilities(req: AssetRequirement) -> frozenset[str]:
    """Plain capability flags. ``key:value`` entries (``channels:8``) are informational and never required."""
    if req.kind != "machine":
        return frozenset()
    return frozenset(c for c in req.capabilities if ":" not in c)


def type_matches(req: AssetRequirement, asset: Asset) -> bool:
    """Kind must agree; then any wanted PLR type in the asset's class chain (a TecanPlate is a Plate),
    or the category when the requirement names no type."""
    if req.kind != asset.kind:
        return False
    wanted = {req.plr_type, *req.alternatives} - {""}
    if wanted:
        return bool(wanted & asset.types)
    return req.category is not None and asset.category == req.category


def simulation_ok(asset: Asset, run: RunRequest) -> bool:
    """A real run never gets a simulated asset; a simulated run gets real hardware only when allowed."""
    if run.simulate:
        return asset.simulated or run.allow_real_hardware
    return not asset.simulated


def missing_capabilities(req: AssetRequirement, asset: Asset) -> frozenset[str]:
    return required_capabilities(req) - asset.capabilities


def mismatch(req: AssetRequirement, asset: Asset, run: RunRequest) -> str | None:
    """Why ``asset`` can never serve ``req`` for this run, or None when it fits."""
    if not type_matches(req, asset):
        what = asset.plr_type.rsplit(".", 1)[-1] or asset.kind
        return f"it is a {what}, not a {label(req)}"
    if not simulation_ok(asset, run):
        if run.simulate:
            return "it is real hardware and this run is simulated (allow real hardware in simulation to use it)"
        return "it is simulated and a real run never uses simulated hardware"
    missing = missing_capabilities(req, asset)
    if missing:
        has = ", ".join(sorted(asset.capabilities)) or "none"
        return f"it lacks {', '.join(sorted(missing))} (it has: {has})"
    return None
