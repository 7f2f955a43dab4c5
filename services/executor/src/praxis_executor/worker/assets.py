"""Protocol keyword arguments from the scheduler's assignment: machines become local frontends, resources the
local deck's objects of the same name.

A requirement assigned several times, or a parameter annotated as a sequence (``list[Plate]``), gets a list.
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from collections.abc import Callable
from typing import Any

from praxis_contracts.runs import AssetAssignment, Assignment
from praxis_executor.worker.deck import RunDeck


class AssetError(TypeError):
    """The assignment does not fit the protocol's signature."""


_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable, collections.abc.Collection)


def wants_many(fn: Callable[..., Any], name: str) -> bool:
    try:
        hint = typing.get_type_hints(fn, include_extras=False).get(name)
    except Exception:  # unresolvable annotations: decide by the assignment count alone
        return False
    return typing.get_origin(hint) in _SEQUENCES or hint in _SEQUENCES


def asset_value(deck: RunDeck, asset: AssetAssignment) -> Any:
    machine = deck.machine(asset.bench_id, asset.machine)
    if asset.kind == "machine":
        return machine.frontend
    if not asset.resource:
        raise AssetError(f"asset {asset.requirement!r} is a resource but names none")
    return machine.get_resource(asset.resource)


def build_assets(fn: Callable[..., Any], assignment: Assignment, deck: RunDeck) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    grouped: dict[str, list[AssetAssignment]] = {}
    for asset in assignment.assets:
        if asset.requirement not in params:
            raise AssetError(f"the assignment provides {asset.requirement!r}, which the protocol does not take")
        grouped.setdefault(asset.requirement, []).append(asset)
    kwargs: dict[str, Any] = {}
    for name, assets in grouped.items():
        values = [asset_value(deck, a) for a in assets]
        kwargs[name] = values if len(values) > 1 or wants_many(fn, name) else values[0]
    return kwargs


def build_kwargs(fn: Callable[..., Any], parameters: dict[str, Any], assets: dict[str, Any]) -> dict[str, Any]:
    """User parameters plus assets; unknown names and missing required ones fail with the parameter named."""
    params = inspect.signature(fn).parameters
    unknown = sorted(set(parameters) - set(params))
    if unknown:
        raise AssetError(f"unknown parameter(s) {unknown}; the protocol takes {list(params)}")
    clash = sorted(set(parameters) & set(assets))
    if clash:
        raise AssetError(f"parameter(s) {clash} are assets and cannot be given as values")
    kwargs = {**parameters, **assets}
    missing = [
        n
        for n, p in params.items()
        if p.default is inspect.Parameter.empty and n not in kwargs and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if missing:
        raise AssetError(f"no value and no assignment for parameter(s) {missing}")
    return kwargs
