"""Plain JSON for a run's outputs: what a protocol returns may hold NaN, numpy numbers, resources or tuples."""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from collections.abc import Mapping
from typing import Any

from pylabrobot.resources import Resource


def to_json(value: Any) -> Any:
    """Best-effort JSON: non-finite floats become null, resources their names, unknown objects their repr."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Resource):
        return value.name
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return to_json(tolist())
    return repr(value)
