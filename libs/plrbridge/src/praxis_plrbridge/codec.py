"""JSON-safe encoding of PLR backend-call arguments and results.

A backend call on the worker carries live PLR objects (ops holding wells and tip spots, tips, coordinates); on the
agent the same call must be made with *equivalent* objects from the agent's mirror of the run's deck. So:

- resources travel by name, ``{"$resource": "plate_01_well_A1"}``, and a resolver turns names back into objects;
- PLR's own serializable values (``Coordinate``, ``Rotation``, ``Tip`` and its subclasses) use PLR's
  ``serialize()`` / ``deserialize()``: ``{"$plr": {...}}``;
- the liquid-handling op dataclasses (``Pickup``, ``SingleChannelAspiration``, ``ResourceDrop``, ``Mix``, ...) go
  field by field, ``{"$dataclass": "<fqn>", "fields": {...}}``, so decoding rebuilds the real op class the
  backend expects (PLR's ``SerializingBackend`` flattens ops to dicts, which a real backend cannot take back);
- enums by member name, tuples, non-string-keyed dicts and non-finite floats are tagged so they round-trip.

Decoding only ever imports classes from ``pylabrobot`` and refuses machines and backends: a message must not be able
to make the agent import or construct anything else.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from pylabrobot.machines.backend import MachineBackend
from pylabrobot.machines.machine import Machine
from pylabrobot.resources import Resource
from pylabrobot.serializer import SerializableMixin, deserialize
from pylabrobot.utils.object_parsing import find_subclass

from praxis_plrbridge.imports import ImportPathError, fqn, import_object

Json = Any
"""A value made only of dict/list/str/int/float/bool/None (``json.dumps`` accepts it as is)."""

Resolver = Callable[[str], Resource]
"""Maps a resource name to the resource (the agent's run mirror, or the worker's deck)."""

ALLOWED_PREFIXES = ("pylabrobot.",)
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class CodecError(ValueError):
    """A value that cannot be encoded, or a payload that cannot be decoded."""


def encode(value: Any, *, lenient: bool = False) -> Json:
    """Encode ``value`` for a JSON message.

    ``lenient=True`` (used for call results) turns an unknown object into ``{"$repr": repr(obj)}`` instead of
    raising: a device action has already happened, and its answer must not be lost for want of a codec.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return {"$enum": fqn(value), "name": value.name}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": _non_finite_name(value)}
    if isinstance(value, Resource):
        return {"$resource": value.name}
    if isinstance(value, (Machine, MachineBackend)):
        raise CodecError(f"a {fqn(value)} cannot travel in a machine call")
    if isinstance(value, SerializableMixin):
        return {"$plr": value.serialize()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value, lenient=lenient)
    if isinstance(value, list):
        return [encode(v, lenient=lenient) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, lenient=lenient) for v in value]}
    if isinstance(value, (set, frozenset)):
        return [encode(v, lenient=lenient) for v in sorted(value, key=repr)]
    if isinstance(value, Mapping):
        return _encode_mapping(value, lenient=lenient)
    if isinstance(value, numbers.Integral):  # numpy integers and the like
        return int(value)
    if isinstance(value, numbers.Real):
        return encode(float(value))
    if lenient:
        return {"$repr": repr(value)}
    raise CodecError(f"cannot encode a {fqn(value)} for a machine call")


def decode(data: Json, resolve: Resolver | None = None) -> Any:
    """Rebuild the values :func:`encode` produced; resources come from ``resolve`` (names are unique per deck)."""
    if isinstance(data, list):
        return [decode(v, resolve) for v in data]
    if not isinstance(data, dict):
        return data
    tags = [k for k in data if k.startswith("$")]
    if not tags:
        return {k: decode(v, resolve) for k, v in data.items()}
    tag = tags[0]
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise CodecError(f"unknown codec tag {tag!r}")
    return decoder(data, resolve)


def _non_finite_name(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _encode_dataclass(value: Any, *, lenient: bool) -> Json:
    name = fqn(value)
    if not name.startswith(ALLOWED_PREFIXES):
        if lenient:
            return {"$repr": repr(value)}
        raise CodecError(f"only PyLabRobot dataclasses travel in machine calls, not {name}")
    fields = {f.name: encode(getattr(value, f.name), lenient=lenient) for f in dataclasses.fields(value)}
    return {"$dataclass": name, "fields": fields}


def _encode_mapping(value: Mapping[Any, Any], *, lenient: bool) -> Json:
    if all(isinstance(k, str) and not k.startswith("$") for k in value):
        return {k: encode(v, lenient=lenient) for k, v in value.items()}
    return {"$dict": [[encode(k, lenient=lenient), encode(v, lenient=lenient)] for k, v in value.items()]}


def _decode_resource(data: dict[str, Any], resolve: Resolver | None) -> Any:
    if resolve is None:
        raise CodecError(f"resource {data['$resource']!r} cannot be decoded without a deck")
    return resolve(str(data["$resource"]))


def _decode_plr(data: dict[str, Any], resolve: Resolver | None) -> Any:
    payload = data["$plr"]
    type_name = payload.get("type") if isinstance(payload, dict) else None
    cls = find_subclass(type_name, cls=SerializableMixin) if isinstance(type_name, str) else None
    if cls is None:
        raise CodecError(f"unknown PyLabRobot type in {payload!r}")
    if issubclass(cls, (Resource, Machine, MachineBackend)):
        raise CodecError(f"a {type_name} cannot be built from a machine call; send resources by name")
    return deserialize(payload)


def _import_allowed(name: str) -> Any:
    try:
        return import_object(name, allowed_prefixes=ALLOWED_PREFIXES)
    except ImportPathError as exc:
        raise CodecError(str(exc)) from exc


def _decode_dataclass(data: dict[str, Any], resolve: Resolver | None) -> Any:
    cls = _import_allowed(str(data["$dataclass"]))
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise CodecError(f"{data['$dataclass']!r} is not a dataclass")
    fields = {k: decode(v, resolve) for k, v in dict(data.get("fields", {})).items()}
    return cls(**fields)


def _decode_enum(data: dict[str, Any], resolve: Resolver | None) -> Any:
    cls = _import_allowed(str(data["$enum"]))
    if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
        raise CodecError(f"{data['$enum']!r} is not an enum")
    return cls[str(data["name"])]


def _decode_float(data: dict[str, Any], resolve: Resolver | None) -> Any:
    try:
        return _NON_FINITE[str(data["$float"])]
    except KeyError:
        raise CodecError(f"bad non-finite float {data['$float']!r}") from None


_DECODERS: dict[str, Callable[[dict[str, Any], Resolver | None], Any]] = {
    "$resource": _decode_resource,
    "$plr": _decode_plr,
    "$dataclass": _decode_dataclass,
    "$enum": _decode_enum,
    "$float": _decode_float,
    "$tuple": lambda d, r: tuple(decode(v, r) for v in d["$tuple"]),
    "$dict": lambda d, r: {decode(k, r): decode(v, r) for k, v in d["$dict"]},
    "$repr": lambda d, r: str(d["$repr"]),
}


def encode_kwargs(kwargs: Mapping[str, Any], *, lenient: bool = False) -> dict[str, Json]:
    """Encode a call's keyword arguments (the shape of ``MachineCall.args``)."""
    return {name: encode(value, lenient=lenient) for name, value in kwargs.items()}


def decode_kwargs(args: Mapping[str, Json], resolve: Resolver | None = None) -> dict[str, Any]:
    """Decode ``MachineCall.args`` back into keyword arguments for the backend method."""
    return {name: decode(value, resolve) for name, value in args.items()}
