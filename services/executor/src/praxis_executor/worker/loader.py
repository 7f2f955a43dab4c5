"""Load the user's protocol source into a fresh module and find its function.

Executing user code is the worker's job (it is the process that is isolated for it). The source is registered
with ``linecache`` under a readable file name so a traceback shows the user's lines.
"""

from __future__ import annotations

import hashlib
import inspect
import linecache
import sys
import types
from collections.abc import Callable
from typing import Any


class ProtocolLoadError(RuntimeError):
    pass


def load_protocol(source: str, function: str, filename: str | None = None) -> Callable[..., Any]:
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = filename or f"<protocol {digest}>"
    module = types.ModuleType(f"praxis_user_protocol_{digest}")
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    code = compile(source, filename, "exec")
    sys.modules[module.__name__] = module  # dataclasses and pickling look modules up by name
    exec(code, module.__dict__)
    fn = getattr(module, function, None)
    if fn is None:
        raise ProtocolLoadError(f"{filename} defines no {function!r}")
    if not inspect.iscoroutinefunction(fn):
        raise ProtocolLoadError(f"{function!r} in {filename} is not an async function")
    return fn  # type: ignore[no-any-return]
