"""The backend interface a frontend talks to, as both ends of a machine call need to know it.

The worker generates a proxy backend from it (every public coroutine becomes a forwarded call) and the agent
reports the values of its abstract properties (``num_channels``, ``supports_locking``...), which a proxy cannot
ask for over the wire because properties are synchronous.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pylabrobot.machines.backend import MachineBackend
from pylabrobot.machines.machine import Machine

from praxis_plrbridge.codec import Json, encode

LIFECYCLE = frozenset({"setup", "stop"})
"""Never forwarded: the agent sets its machines up once; a run only borrows them."""

_LIQUID_HANDLER_PROPERTIES = ("num_channels", "head96_installed", "num_arms")


def backend_interface(frontend_cls: type[Machine]) -> type[MachineBackend]:
    """The backend ABC the frontend's ``__init__`` annotates (``PlateReader`` -> ``PlateReaderBackend``).

    Device-specific frontends often omit the annotation, so the MRO is searched for the first one that has it.
    """
    for cls in frontend_cls.__mro__:
        init = vars(cls).get("__init__")
        if init is None:
            continue
        try:
            hint = typing.get_type_hints(init).get("backend")
        except Exception:  # unresolvable forward references in a third-party signature
            continue
        candidates: tuple[object, ...] = (hint, *typing.get_args(hint))
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, MachineBackend):
                return candidate
    fallback: type[MachineBackend] = MachineBackend  # PLR ships no type information: MachineBackend is Any
    return fallback


def forwardable_methods(interface: type[MachineBackend]) -> list[str]:
    """Public coroutine methods of the interface, lifecycle excluded, sorted."""
    return sorted(
        name
        for name, member in inspect.getmembers(interface)
        if not name.startswith("_") and name not in LIFECYCLE and inspect.iscoroutinefunction(member)
    )


def abstract_properties(interface: type[MachineBackend]) -> list[str]:
    return sorted(
        name
        for name in getattr(interface, "__abstractmethods__", ())
        if isinstance(inspect.getattr_static(interface, name), property)
    )


def backend_properties(frontend: Machine) -> dict[str, Json]:
    """The live backend's values for the properties a proxy of it must answer locally."""
    names = set(abstract_properties(backend_interface(type(frontend))))
    if hasattr(frontend.backend, "head96_installed"):
        names.update(_LIQUID_HANDLER_PROPERTIES)
    values: dict[str, Json] = {}
    for name in sorted(names):
        try:
            value: Any = getattr(frontend.backend, name)
        except Exception:  # not known yet (before setup) or not implemented: the proxy raises on access
            continue
        values[name] = encode(value, lenient=True)
    return values
