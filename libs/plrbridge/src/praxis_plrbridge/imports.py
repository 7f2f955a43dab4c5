"""Turn dotted import paths into objects, and objects back into their fully qualified names.

Both the bench config (trusted: written by the bench's operator) and the codec (untrusted: arrives over NATS)
import by name; the codec passes ``allowed_prefixes`` so a message can never make the agent import arbitrary code.
"""

from __future__ import annotations

import importlib
from typing import Any


class ImportPathError(ValueError):
    """An import path that does not name an importable object."""


def fqn(obj: Any) -> str:
    """``module.Qualname`` of a class (or of an object's class)."""
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def import_object(path: str, *, allowed_prefixes: tuple[str, ...] = ()) -> Any:
    """Import ``package.module.Name`` (``package.module:Name`` works too) and return the object.

    The longest importable module prefix wins, so a re-export (``pylabrobot.resources.Plate``) and the defining
    module (``pylabrobot.resources.plate.Plate``) both work; nested names are followed with getattr.
    """
    if allowed_prefixes and not path.startswith(allowed_prefixes):
        raise ImportPathError(f"{path!r} is outside the allowed packages {list(allowed_prefixes)}")
    parts = path.replace(":", ".").split(".")
    if len(parts) < 2 or not all(parts):
        raise ImportPathError(f"{path!r} is not a dotted path like 'package.module.Name'")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # this prefix is not a module; try a shorter one
            raise ImportPathError(f"cannot import {path!r}: {exc}") from exc
        except Exception as exc:  # a module that refuses to import (PLR's deprecated shims raise)
            raise ImportPathError(f"cannot import {path!r}: {exc}") from exc
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            raise ImportPathError(f"cannot import {path!r}: {module_name} has no {'.'.join(parts[cut:])}") from None
        return obj
    raise ImportPathError(f"cannot import {path!r}: no such module")
