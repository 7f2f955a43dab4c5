"""Independent inventory of the installed PyLabRobot, made by *importing* it (run as a subprocess).

This is the oracle the static catalog is checked against, so it deliberately shares no code with
``praxis_discovery.catalog``: it imports every non-test module, walks ``Machine.__subclasses__()`` and
``MachineBackend.__subclasses__()`` recursively and prints one JSON object on stdout.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import os
import sys
import typing
import warnings


def import_everything() -> list[str]:
    """Import every non-test module of pylabrobot; return the ones that refused (deprecated shims)."""
    import pylabrobot

    failed: list[str] = []
    root = os.path.dirname(pylabrobot.__file__)
    for name in sorted(module_names(root)):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}")
    return failed


def module_names(root: str) -> list[str]:
    """Dotted names of every non-test module under ``root`` (files only; nothing is imported here)."""
    names: list[str] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in ("tests", "__pycache__")]
        rel = os.path.relpath(directory, os.path.dirname(root)).replace(os.sep, ".")
        for file in files:
            if not file.endswith(".py") or file.endswith("_tests.py") or file == "conftest.py":
                continue
            stem = file[:-3]
            names.append(rel if stem == "__init__" else f"{rel}.{stem}")
    return names


def all_subclasses(cls: type) -> list[type]:
    seen: dict[str, type] = {}
    stack = [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            key = f"{sub.__module__}.{sub.__qualname__}"
            if key not in seen:
                seen[key] = sub
                stack.append(sub)
    return sorted(seen.values(), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def fqn(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def accepted_backend(cls: type) -> str | None:
    """The class named by the ``backend`` annotation of ``cls.__init__`` (inherited through the MRO)."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            param = inspect.signature(init).parameters.get("backend")
        except (TypeError, ValueError):
            continue
        if param is None:
            continue
        annotation = param.annotation
        if isinstance(annotation, str):
            module = sys.modules[klass.__module__]
            try:
                annotation = eval(annotation, vars(module))
            except Exception:
                return None
        if typing.get_origin(annotation) is not None:
            args = [a for a in typing.get_args(annotation) if isinstance(a, type)]
            annotation = args[0] if args else None
        return fqn(annotation) if isinstance(annotation, type) else None
    return None


def package_of(cls: type) -> str:
    return cls.__module__.split(".")[1]


def main() -> None:
    failed = import_everything()
    from pylabrobot.machines.backend import MachineBackend
    from pylabrobot.machines.machine import Machine

    frontends = all_subclasses(Machine)
    backends = all_subclasses(MachineBackend)
    accepts = {fqn(f): accepted_backend(f) for f in frontends}
    by_fqn = {fqn(c): c for c in frontends + backends}
    out_frontends = [
        {
            "fqn": fqn(f),
            "abstract": inspect.isabstract(f),
            "category": package_of(f),
            "bases": [fqn(b) for b in f.__bases__],
            "accepts_backend": accepts[fqn(f)],
        }
        for f in frontends
    ]
    out_backends = []
    for b in backends:
        served = [f for f, acc in accepts.items() if acc is not None and acc in by_fqn and issubclass(b, by_fqn[acc])]
        out_backends.append(
            {
                "fqn": fqn(b),
                "abstract": inspect.isabstract(b),
                "simulated": "Chatterbox" in b.__name__ or "Simulator" in b.__name__,
                "category": package_of(b),
                "bases": [fqn(x) for x in b.__bases__],
                "frontends": sorted(served),
            }
        )
    import pylabrobot

    json.dump(
        {
            "plr_version": getattr(pylabrobot, "__version__", ""),
            "import_failures": failed,
            "frontends": out_frontends,
            "backends": out_backends,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
