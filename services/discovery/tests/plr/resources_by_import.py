"""Independent inventory of PLR resource factories, made by importing and *calling* them (run as a subprocess).

The oracle for the static resource scan; it shares no code with ``praxis_discovery.catalog``. A factory is a
public function whose return annotation is a Resource subclass (not a Machine), or an unannotated function
taking only ``name`` that returns a Resource when called. Each is called with ``name`` alone when that is its
only required parameter, with sockets and ``urlopen`` blocked and the Opentrons download cache hidden, and the
outcome recorded: what it built (sizes, model, item count, volume), whether it warned that it is deprecated,
whether it tried the network, or what it raised.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import socket
import sys
import typing
import urllib.request
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inventory_by_import import import_everything


class NetworkAttempt(Exception):
    pass


def _block_network() -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkAttempt("network access attempted")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    urllib.request.urlopen = refuse  # type: ignore[assignment]
    real_exists = os.path.exists

    def exists(path: Any) -> bool:  # hide previously downloaded Opentrons definitions
        if isinstance(path, str) and path.endswith(".json") and ("/tmp/" in path or "Temp" in path):
            return False
        return real_exists(path)

    os.path.exists = exists  # type: ignore[assignment]


def _generic_kind(cls: type) -> str:
    for klass in cls.__mro__:
        module = klass.__module__
        parts = module.split(".")
        if module.startswith("pylabrobot.resources.") and len(parts) == 3:
            mod = sys.modules[module]
            if not hasattr(mod, "__path__"):
                return klass.__name__
    return "Resource"


def _describe(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "class": f"{type(value).__module__}.{type(value).__qualname__}",
        "size_x": value.get_size_x(),
        "size_y": value.get_size_y(),
        "size_z": value.get_size_z(),
        "model": getattr(value, "model", None),
    }
    num_items = getattr(value, "num_items", None)
    out["num_items"] = num_items if isinstance(num_items, int) else None
    out["well_volume"] = None
    out["tip_volume"] = None
    with contextlib.suppress(Exception):
        first = value.get_item(0)
        out["well_volume"] = getattr(first, "max_volume", None)
        tip = first.get_tip() if hasattr(first, "get_tip") else None
        out["tip_volume"] = getattr(tip, "maximal_volume", None)
    if out["well_volume"] is None:
        out["well_volume"] = getattr(value, "max_volume", None)
    return out


def _call(fn: Any) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    required = [
        p
        for p in params.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY, p.KEYWORD_ONLY)
    ]
    if [p.name for p in required] not in (["name"], []):
        return {"status": "not_called", "deprecation_warning": None}
    result: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            value = fn("x") if required else fn()
            result["status"] = "ok"
            result["built"] = _describe(value)
        except NetworkAttempt:
            result["status"] = "network"
        except Exception as exc:
            result["status"] = "raises"
            result["error"] = f"{type(exc).__name__}: {exc}"
    # Only a warning about *this* function counts: building a tip rack may also warn about PLR internals
    # ("Creating a Tip without a name is deprecated"), which does not make the factory deprecated.
    result["deprecation_warning"] = any(
        fn.__name__ in str(w.message)
        and (issubclass(w.category, DeprecationWarning | FutureWarning) or "deprecat" in str(w.message).lower())
        for w in caught
    )
    return result


def main() -> None:
    import_everything()
    _block_network()
    from pylabrobot.machines.machine import Machine
    from pylabrobot.resources.resource import Resource

    out: dict[str, Any] = {}
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("pylabrobot") or module is None:
            continue
        for attr, fn in sorted(vars(module).items()):
            if not inspect.isfunction(fn) or fn.__module__ != module_name or attr.startswith("_"):
                continue
            annotation = fn.__annotations__.get("return")
            try:
                returned = typing.get_type_hints(fn).get("return")
            except Exception:
                returned = None
            entry: dict[str, Any] | None = None
            if isinstance(returned, type) and issubclass(returned, Resource) and not issubclass(returned, Machine):
                entry = {"kind": _generic_kind(returned), **_call(fn)}
            elif annotation is None and list(inspect.signature(fn).parameters) == ["name"]:
                called = _call(fn)
                built = called.get("built")
                if built is not None:
                    cls = _resolve_class(built["class"])
                    if cls is not None and issubclass(cls, Resource) and not issubclass(cls, Machine):
                        entry = {"kind": _generic_kind(cls), **called}
            if entry is not None:
                out[f"{module_name}.{attr}"] = entry
    json.dump(out, sys.stdout)


def _resolve_class(dotted: str) -> type | None:
    module, _, name = dotted.rpartition(".")
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None


if __name__ == "__main__":
    main()
